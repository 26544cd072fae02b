-- Forgets clock samples older than two days (a watermark keeps the "data as of" it reached).
delete from aspire_sync.aspire_clock as c
where c.sampled_at < now() - interval '2 days'
