-- Forgets reconciliation measurements older than 90 days.
delete from aspire_sync.reconciliation as r
where r.checked_at < now() - interval '90 days'
