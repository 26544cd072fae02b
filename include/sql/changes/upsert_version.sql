-- Records that the entity's deletes up to `version` are in the portal, in the load's transaction.
insert into aspire_sync.change_tracking_version as v (entity, version, updated_at, updated_by_run_id)
values (%(entity)s, %(version)s, now(), %(run_id)s)
on conflict (entity) do update
set version = excluded.version,
    updated_at = excluded.updated_at,
    updated_by_run_id = excluded.updated_by_run_id
