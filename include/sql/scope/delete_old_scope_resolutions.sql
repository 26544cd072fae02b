-- Forgets resolved scopes older than three hours (longer than any run and its retries), except the newest one
-- for every enrolled customer (a customer full sync starts from it), with their accounts and contracts. A load
-- whose run's scope is gone resolves it again.
with forgotten as (
    delete from aspire_sync.scope_resolution as r
    where r.resolved_at < now() - interval '3 hours'
      and r.resolution_id < (select coalesce(max(n.resolution_id), 0) from aspire_sync.scope_resolution as n
                             where n.kind = 'all')
    returning r.resolution_id
),
accounts as (
    delete from aspire_sync.scope_account as a
    where a.resolution_id in (select f.resolution_id from forgotten as f)
)
delete from aspire_sync.scope_contract as c
where c.resolution_id in (select f.resolution_id from forgotten as f)
