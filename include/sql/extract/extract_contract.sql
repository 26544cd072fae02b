-- Extracts the in-scope contracts: booked, with an in-scope account as Customer or Guarantor.
{% import "macros/aspire.sql" as aspire with context %}
select
    c.ContractOid as contract_oid,
    c.ContractId as contract_id,
    c.CustomerAccountOid as customer_account_oid,
    c.ScenarioOid as scenario_oid,
    c.LineOfCreditOid as line_of_credit_oid,
    c.Status as status,
    c.IsBooked as is_booked,
    c.BookedDate as booked_date,
    c.CommencementDate as commencement_date,
    c.MaturityDate as maturity_date,
    c.TermMonths as term_months,
    c.PaymentFrequency as payment_frequency,
    c.PaymentTiming as payment_timing,
    c.PaymentAmount as payment_amount,
    c.EquipmentCost as equipment_cost,
    c.ResidualAmount as residual_amount,
    c.Rate as rate,
    c.TerminationDate as termination_date,
    c.LastModifiedAt as last_modified_at,
    {{ aspire.row_version("c.RowVer") }} as source_rowver
from dbo.Contract as c
where c.ContractOid in ({{ aspire.scoped_contracts() }})
  {{ aspire.change_filter("c") }}
