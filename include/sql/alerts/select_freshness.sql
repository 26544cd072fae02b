-- How fresh each 15-minute entity is at %(now)s, the worst first: its watermark's data_as_of (every ASPIRE
-- transaction committed before it is in the portal), how far behind that is, when a load last wrote the watermark,
-- and the entity's last incremental load. Stale: data_as_of older than the threshold; unknown (null, or no watermark
-- yet: never loaded incrementally) counts as stale once the portal schema is older than the threshold, so a new
-- deployment has one threshold's time for its first run.
with entity as (
    select e.entity
    from unnest(cast(%(entities)s as text[])) as e (entity)
),

settings as (
    select cast(%(now)s as timestamptz) as checked_at,
           make_interval(mins => cast(%(threshold_minutes)s as integer)) as threshold,
           (select min(m.applied_at) from aspire_sync.schema_migration as m) as schema_created_at
),

last_load as (
    select e.entity, l.started_at, l.status, l.error
    from entity as e
    left join lateral (
        select r.started_at, r.status, r.error
        from aspire_sync.run_log as r
        where r.entity = e.entity
          and r.load_kind = 'incremental'
        order by r.started_at desc
        limit 1
    ) as l on true
),

final as (
    select
        e.entity,
        w.high_water_mark,
        w.data_as_of,
        w.updated_at as watermark_written_at,
        w.updated_by_run_id,
        s.checked_at - w.data_as_of as behind,
        l.started_at as last_load_started_at,
        l.status as last_load_status,
        l.error as last_load_error,
        case
            when w.data_as_of is null then s.schema_created_at < s.checked_at - s.threshold
            else w.data_as_of < s.checked_at - s.threshold
        end as stale
    from entity as e
    cross join settings as s
    left join aspire_sync.watermark as w on w.entity = e.entity
    left join last_load as l on l.entity = e.entity
)

select * from final
order by data_as_of nulls first, entity
