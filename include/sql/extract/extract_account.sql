-- Extracts the in-scope accounts (the enrolled customers themselves).
{% import "macros/aspire.sql" as aspire with context %}
select
    a.AccountOid as account_oid,
    a.AccountNumber as account_number,
    a.Name as name,
    a.DbaName as dba_name,
    a.IsBusiness as is_business,
    a.Email as email,
    a.Phone as phone,
    a.AddressLine1 as address_line1,
    a.AddressLine2 as address_line2,
    a.City as city,
    a.State as state,
    a.PostalCode as postal_code,
    a.Status as status,
    a.LastModifiedAt as last_modified_at,
    {{ aspire.row_version("a.RowVer") }} as source_rowver
from dbo.Account as a
where a.AccountOid in ({{ aspire.id_list("accounts") }})
  {{ aspire.change_filter("a") }}
