-- Which of the given ids are ASPIRE accounts (an enrolment row naming no account is quarantined), with each row's
-- row version (see select_scope_links.sql).
{% import "macros/aspire.sql" as aspire with context %}
select a.AccountOid as account_oid, {{ aspire.row_version("a.RowVer") }} as row_version
from dbo.Account as a
where a.AccountOid in ({{ aspire.id_list("accounts") }})
