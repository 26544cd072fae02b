-- When the running re-baseline began: a 15-minute run skips while one runs, and fails (and alerts) once it has run
-- longer than any daily refresh may, so a re-baseline that failed cannot leave the 15-minute runs skipped for good.
-- The identity columns then hold what the re-baseline started on, which its end compares with ASPIRE again.
alter table aspire_sync.aspire_timeline add column rebaseline_started_at timestamptz;
