-- What each entity load of one DAG run read and wrote, for the run's closing log line.
select l.entity, l.load_kind, l.rows_read, l.rows_inserted, l.rows_updated, l.rows_deleted,
       extract(epoch from l.finished_at - l.started_at) as seconds
from aspire_sync.run_log as l
where l.dag_id = %(dag_id)s
  and l.run_id = %(run_id)s
  and l.status = 'success'
order by l.entity
