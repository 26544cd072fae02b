-- Whether an ASPIRE account exists and whether it is a customer (holds the Customer role on some contract).
select a.AccountOid,
       exists (select 1 from dbo.ContractRole r where r.AccountOid = a.AccountOid and r.RoleType = 'Customer')
           as is_customer
from dbo.Account a
where a.AccountOid = %(account_oid)s;
