-- Records the enrolled accounts of a resolved scope: the given ones, plus, for a scope built on a base
-- resolution, the base's accounts except those dropped (copied on the server, not sent again).
insert into aspire_sync.scope_account (resolution_id, account_oid)
select %(resolution_id)s, a.account_oid
from unnest(cast(%(accounts)s as bigint[])) as a(account_oid)
union all
select %(resolution_id)s, b.account_oid
from aspire_sync.scope_account as b
where b.resolution_id = %(base_members_id)s
  and b.account_oid <> all(cast(%(dropped)s as bigint[]))
