-- Sets the entity's high-water mark to a re-baseline's read bound, even below the one it had: after ASPIRE went
-- back in time, the old mark counts row versions of a timeline that no longer exists.
insert into aspire_sync.watermark as w (entity, high_water_mark, data_as_of, updated_at, updated_by_run_id)
values (%(entity)s, %(read_bound)s, %(data_as_of)s, now(), %(run_id)s)
on conflict (entity) do update
set high_water_mark = excluded.high_water_mark,
    data_as_of = excluded.data_as_of,
    updated_at = excluded.updated_at,
    updated_by_run_id = excluded.updated_by_run_id
