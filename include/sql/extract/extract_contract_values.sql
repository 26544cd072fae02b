-- Extracts the principal-and-interest figures of the in-scope contracts.
{% import "macros/aspire.sql" as aspire with context %}
select
    v.ContractOid as contract_oid,
    v.AsOfDate as as_of_date,
    v.PrincipalBalance as principal_balance,
    v.InterestRate as interest_rate,
    v.PrincipalPaidToDate as principal_paid_to_date,
    v.InterestPaidToDate as interest_paid_to_date,
    v.RemainingPayments as remaining_payments,
    v.NextDueDate as next_due_date,
    v.NextDueAmount as next_due_amount,
    v.PastDueAmount as past_due_amount,
    v.DaysPastDue as days_past_due,
    v.PayoffAmount as payoff_amount,
    v.LastModifiedAt as last_modified_at,
    {{ aspire.row_version("v.RowVer") }} as source_rowver
from dbo.ContractValues as v
where v.ContractOid in ({{ aspire.scoped_contracts() }})
  {{ aspire.change_filter("v") }}
