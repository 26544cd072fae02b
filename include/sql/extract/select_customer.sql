-- Looks up one account in ASPIRE, to tell an unknown customer_id from a known one before anything is written.
select a.AccountOid as account_oid, a.Name as name
from dbo.Account as a
where a.AccountOid = %(customer_id)s
