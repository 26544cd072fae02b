-- Per entity (for `status`): its watermark and "data as of", its newest load over everyone (loads of some customers
-- are left out: one customer's failure is not the entity's), and its newest full load over everyone (the daily
-- refresh) with the "data as of" of the newest that succeeded (a daily entity's freshness).
select
    e.entity,
    w.high_water_mark,
    w.data_as_of,
    last_load.status as last_status,
    last_load.load_kind as last_kind,
    last_load.dag_id as last_dag_id,
    last_load.task_id as last_task_id,
    last_load.started_at as last_started_at,
    last_load.rows_read,
    last_load.rows_inserted,
    last_load.rows_updated,
    last_load.rows_deleted,
    last_load.error as last_error,
    last_refresh.status as refresh_status,
    last_refresh.started_at as refresh_started_at,
    last_refresh.task_id as refresh_task_id,
    last_refresh.error as refresh_error,
    refreshed.data_as_of as refreshed_data_as_of
from unnest(cast(%(entities)s as text[])) with ordinality as e (entity, position)
left join aspire_sync.watermark as w on w.entity = e.entity
left join lateral (
    select l.status, l.load_kind, l.dag_id, l.task_id, l.started_at, l.rows_read, l.rows_inserted, l.rows_updated,
           l.rows_deleted, l.error
    from aspire_sync.run_log as l
    where l.entity = e.entity
      and l.customer_id is null
    order by l.started_at desc
    limit 1
) as last_load on true
left join lateral (
    select l.status, l.started_at, l.task_id, l.error
    from aspire_sync.run_log as l
    where l.entity = e.entity
      and l.load_kind = 'full'
      and l.customer_id is null
    order by l.started_at desc
    limit 1
) as last_refresh on true
left join lateral (
    select l.data_as_of
    from aspire_sync.run_log as l
    where l.entity = e.entity
      and l.load_kind = 'full'
      and l.customer_id is null
      and l.status = 'success'
    order by l.started_at desc
    limit 1
) as refreshed on true
order by e.position
