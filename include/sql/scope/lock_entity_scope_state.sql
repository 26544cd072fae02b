-- Takes the entity's held-state row for the rest of the load's transaction (created on first use) and returns it:
-- every writer of the held rows takes it first, so a writer that finds the version it read knows no other load
-- changed them since. (The no-op update is what locks an existing row and returns it in one statement.)
insert into aspire_sync.entity_scope_state as s (entity) values (%(entity)s)
on conflict (entity) do update set entity = s.entity
returning s.members_id, s.follows, s.version
