-- The first key column of an entity's quarantined rows: each load reads them again by key until they load.
select distinct (q.row_key ->> %(column)s)::bigint as key_value
from aspire_sync.source_quarantine as q
where q.entity = %(entity)s
order by 1
