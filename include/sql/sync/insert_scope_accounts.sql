-- Records the enrolled accounts of a resolved scope.
insert into aspire_sync.scope_account (resolution_id, account_oid)
select %(resolution_id)s, a.account_oid
from unnest(cast(%(accounts)s as bigint[])) as a(account_oid)
