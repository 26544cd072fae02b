-- The newest load of one entity over everyone (any kind, any DAG; loads of some customers are left out: one
-- customer's failure is not the entity's), for `explain`: did it fail, and with what error.
select l.status, l.error, l.started_at, l.finished_at, l.dag_id, l.run_id, l.task_id, l.load_kind
from aspire_sync.run_log as l
where l.entity = %(entity)s
  and l.customer_id is null
order by l.started_at desc, l.run_log_id desc
limit 1
