-- Looks up one account (a customer) in ASPIRE for `explain`: its name and row version.
{% import "macros/aspire.sql" as aspire with context %}
select
    a.AccountOid as account_oid,
    a.Name as name,
    {{ aspire.row_version("a.RowVer") }} as rowver
from dbo.Account as a
where a.AccountOid = %(id)s
