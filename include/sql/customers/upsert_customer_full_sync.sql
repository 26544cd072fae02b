-- Marks one customer's full sync done. Its data is as of the earliest "data as of" among the run's loads, and
-- unknown (null) while any of them is unknown.
insert into aspire_sync.customer_sync_status as s (
    account_oid, full_sync_completed_at, data_as_of, last_full_sync_run_id, updated_at
)
select cast(%(customer_id)s as bigint), now(),
       case when count(l.data_as_of) = count(*) then min(l.data_as_of) end, cast(%(run_id)s as varchar), now()
from aspire_sync.run_log as l
where l.dag_id = cast(%(dag_id)s as varchar)
  and l.run_id = cast(%(run_id)s as varchar)
  and l.customer_id = cast(%(customer_id)s as bigint)
  and l.status = 'success'
having count(*) > 0
on conflict (account_oid) do update
set full_sync_completed_at = excluded.full_sync_completed_at,
    data_as_of = excluded.data_as_of,
    last_full_sync_run_id = excluded.last_full_sync_run_id,
    updated_at = excluded.updated_at
returning s.data_as_of
