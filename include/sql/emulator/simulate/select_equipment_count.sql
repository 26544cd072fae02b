-- How many equipment items a contract has.
select count(*) as equipment_count
from dbo.Equipment
where ContractOid = %(contract_oid)s;
