-- Moves the entity's high-water mark forward, in the transaction that committed the rows it covers.
insert into aspire_sync.watermark as w (entity, high_water_mark, data_as_of, updated_at, updated_by_run_id)
values (%(entity)s, %(read_bound)s, %(data_as_of)s, now(), %(run_id)s)
on conflict (entity) do update
set high_water_mark = greatest(w.high_water_mark, excluded.high_water_mark),
    data_as_of = greatest(w.data_as_of, excluded.data_as_of),
    updated_at = excluded.updated_at,
    updated_by_run_id = excluded.updated_by_run_id
