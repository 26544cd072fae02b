-- One contract role, locked for the event that removes it.
select ContractRoleOid, ContractOid, AccountOid, RoleType
from dbo.ContractRole
where ContractRoleOid = %(contract_role_oid)s
for update;
