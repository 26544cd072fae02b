-- How many rows of one portal table belong to a contract.
select count(*) as rows_of_contract
from {{ target }} as t
where t.contract_oid = %(id)s
