-- After a load changed the entity's held rows or found them equal to its scope: what they are known to equal now
-- (null: not known) and what the entity follows, and one more version when they changed.
update aspire_sync.entity_scope_state as s
set members_id = %(members_id)s,
    follows = %(follows)s,
    version = s.version + %(changes)s
where s.entity = %(entity)s
