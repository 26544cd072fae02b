-- Picks a role other than the customer's: the first one at or after a point (fraction 0-1) of the key range.
select ContractRoleOid as oid
from dbo.ContractRole
where RoleType <> 'Customer'
  and ContractRoleOid >= (select floor(min(ContractRoleOid) + %(fraction)s * (max(ContractRoleOid) - min(ContractRoleOid)))::bigint from dbo.ContractRole)
order by ContractRoleOid
limit 1;
