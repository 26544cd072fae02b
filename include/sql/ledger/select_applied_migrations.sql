-- The migrations already applied, with the checksum each had.
select m.version, m.name, m.checksum
from aspire_sync.schema_migration as m
order by m.version
