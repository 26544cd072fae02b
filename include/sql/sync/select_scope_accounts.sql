-- The enrolled accounts of one resolved scope.
select s.account_oid
from aspire_sync.scope_account as s
where s.resolution_id = %(resolution_id)s
