-- The in-scope contracts of one resolved scope, with the account and role that bring each in.
select s.contract_oid, s.account_oid, s.role_type
from aspire_sync.scope_contract as s
where s.resolution_id = %(resolution_id)s
