-- The Change Tracking version up to which the entity's deletes are in the portal (none: never read, or reset).
select v.version
from aspire_sync.change_tracking_version as v
where v.entity = %(entity)s
