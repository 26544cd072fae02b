-- Whether another load of the entity is running now (its run-log row says so and its session is alive): one that
-- read ASPIRE before a delete may still commit the deleted row, so the version must not move past that delete. A
-- session is its pid and its start time (pids are reused).
select exists (
    select 1
    from aspire_sync.run_log as l
    where l.entity = %(entity)s
      and l.status = 'running'
      and l.backend_pid <> pg_backend_pid()
      and exists (
            select 1
            from pg_stat_activity as a
            where a.pid = l.backend_pid
              and (l.backend_start is null or a.backend_start is null or a.backend_start = l.backend_start)
      )
)
