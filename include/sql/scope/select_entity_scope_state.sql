-- Which stored scope an entity's held accounts and contracts are known to equal (null: not known), what the entity
-- followed then, and how many times they changed.
select s.members_id, s.follows, s.version
from aspire_sync.entity_scope_state as s
where s.entity = %(entity)s
