-- The entity's high-water mark (every change below it is already in the portal), its "data as of" and when it moved.
select w.high_water_mark, w.data_as_of, w.updated_at
from aspire_sync.watermark as w
where w.entity = %(entity)s
