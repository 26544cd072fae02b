-- The lock rows of one entity, created on its first load (a no-op, writing nothing, once they exist).
insert into aspire_sync.sync_lock (name)
values ('entity_scope:' || %(entity)s), ('watermark:' || %(entity)s)
on conflict (name) do nothing
