-- Extracts the lines of credit of the in-scope accounts.
{% import "macros/aspire.sql" as aspire with context %}
select
    l.LineOfCreditOid as line_of_credit_oid,
    l.AccountOid as account_oid,
    l.LineNumber as line_number,
    l.ApprovedAmount as approved_amount,
    l.UsedAmount as used_amount,
    l.AvailableAmount as available_amount,
    l.IsRevolving as is_revolving,
    l.EffectiveDate as effective_date,
    l.ExpirationDate as expiration_date,
    l.Status as status,
    l.LastModifiedAt as last_modified_at,
    {{ aspire.row_version("l.RowVer") }} as source_rowver
from dbo.LineOfCredit as l
where l.AccountOid in ({{ aspire.id_list("accounts") }})
  {{ aspire.change_filter("l") }}
