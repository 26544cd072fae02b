-- The contracts the re-read customers held in scope before this run: in the scope this run's scope was built on,
-- and in the newest scope of everyone. A customer full sync deletes what of them the customers no longer hold.
select distinct s.contract_oid
from aspire_sync.scope_contract as s
where s.account_oid = any(cast(%(customers)s as bigint[]))
  and s.resolution_id in (
        %(base_resolution_id)s,
        (select max(r.resolution_id) from aspire_sync.scope_resolution as r where r.kind = 'all')
  )
