-- Forgets resolved scopes older than three hours (longer than any run and its retries), except the newest one
-- for every enrolled customer (a customer full sync starts from it). A load whose run's scope is gone resolves it
-- again.
delete from aspire_sync.scope_resolution as r
where r.resolved_at < now() - interval '3 hours'
  and r.resolution_id < (select coalesce(max(n.resolution_id), 0) from aspire_sync.scope_resolution as n
                         where n.kind = 'all')
