-- Whether one object is in the portal table, at which ASPIRE row version, and since when.
select t.source_rowver, t.synced_at
from {{ target }} as t
where t.{{ key }} = %(id)s
