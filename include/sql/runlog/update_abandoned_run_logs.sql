-- Marks failed the loads of an entity whose process ended before they did (a worker killed outright, out of memory, a
-- lost node): their row still says running and their session is gone, so PostgreSQL rolled their transaction back.
-- A session is its pid and its start time (pids are reused); a row without a start time predates V016.
update aspire_sync.run_log as l
set status = 'failed',
    finished_at = clock_timestamp(),
    error = 'the load''s process ended before the load did (worker killed, out of memory or node lost); its '
            || 'transaction was rolled back, so it wrote nothing'
where l.entity = %(entity)s
  and l.status = 'running'
  and not exists (
        select 1
        from pg_stat_activity as a
        where a.pid = l.backend_pid
          and (l.backend_start is null or a.backend_start is null or a.backend_start = l.backend_start)
  )
