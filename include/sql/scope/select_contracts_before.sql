-- The contracts the re-read customers held in scope before this run: in the scope this run's scope was built on,
-- and in the newest scope of everyone (each read through the rows it reads: see select_scope_resolution.sql). A
-- customer full sync deletes what of them the customers no longer hold.
select distinct s.contract_oid
from aspire_sync.scope_contract as s
where s.account_oid = any(cast(%(customers)s as bigint[]))
  and s.resolution_id in (
        select coalesce(r.members_of, r.resolution_id)
        from aspire_sync.scope_resolution as r
        where r.resolution_id = %(base_resolution_id)s
           or r.resolution_id = (select max(n.resolution_id) from aspire_sync.scope_resolution as n
                                 where n.kind = 'all')
  )
