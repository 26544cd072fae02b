-- The entity's high-water mark: every change below it is already in the portal.
select w.high_water_mark
from aspire_sync.watermark as w
where w.entity = %(entity)s
