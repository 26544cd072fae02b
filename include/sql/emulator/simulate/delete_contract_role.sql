-- Removes an account's role on a contract.
delete from dbo.ContractRole
where ContractRoleOid = %(contract_role_oid)s;
