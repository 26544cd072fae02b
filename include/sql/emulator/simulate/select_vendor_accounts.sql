-- A few vendor accounts (dealers) a new contract's equipment can come from.
select distinct AccountOid
from dbo.ContractRole
where RoleType = 'Vendor'
order by AccountOid
limit 20;
