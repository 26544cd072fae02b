-- Extracts the contacts of the in-scope accounts.
{% import "macros/aspire.sql" as aspire with context %}
select
    c.ContactOid as contact_oid,
    c.AccountOid as account_oid,
    c.FirstName as first_name,
    c.LastName as last_name,
    c.Email as email,
    c.Phone as phone,
    c.IsPrimary as is_primary,
    c.LastModifiedAt as last_modified_at,
    {{ aspire.row_version("c.RowVer") }} as source_rowver
from dbo.AccountContact as c
where c.AccountOid in ({{ aspire.id_list("accounts") }})
  {{ aspire.change_filter("c") }}
