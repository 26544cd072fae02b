-- Records one entity load: what it read and wrote, its bounds and timings, and how it ended (or that it is running,
-- with its session's pid and start time: see V010 and V016).
insert into aspire_sync.run_log (
    dag_id, run_id, task_id, entity, load_kind, customer_id,
    low_rowver, high_rowver, modified_from, modified_to, data_as_of,
    started_at, finished_at, rows_read, rows_inserted, rows_updated, rows_deleted, status, error, backend_pid,
    backend_start
)
values (
    %(dag_id)s, %(run_id)s, %(task_id)s, %(entity)s, %(load_kind)s, %(customer_id)s,
    %(low_rowver)s, %(high_rowver)s, %(modified_from)s, %(modified_to)s, %(data_as_of)s,
    %(started_at)s, case when %(status)s <> 'running' then clock_timestamp() end, %(rows_read)s, %(rows_inserted)s,
    %(rows_updated)s, %(rows_deleted)s, %(status)s, %(error)s, pg_backend_pid(),
    (select a.backend_start from pg_stat_activity as a where a.pid = pg_backend_pid())
)
returning run_log_id
