-- Which of the given ids are ASPIRE accounts (an enrolment row naming no account is quarantined).
{% import "macros/aspire.sql" as aspire with context %}
select a.AccountOid as account_oid
from dbo.Account as a
where a.AccountOid in ({{ aspire.id_list("accounts") }})
