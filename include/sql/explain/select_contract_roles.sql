-- The parties of one contract in ASPIRE, for `explain`: who could bring it into scope (Customer or Guarantor).
select
    r.AccountOid as account_oid,
    r.RoleType as role_type
from dbo.ContractRole as r
where r.ContractOid = %(id)s
order by r.RoleType, r.AccountOid
