-- Deletes the portal rows of the keys Change Tracking reports deleted: those below the read bound, and those at or
-- above it that ASPIRE was asked about and lacks (`absent`); a row written at or above the bound since is not.
with deleted as (
    delete from {{ target }} as t
    using {{ deleted }} as d
    where d.{{ key[0] }} = t.{{ key[0] }}
      and (t.source_rowver < %(read_bound)s or t.{{ key[0] }} = any(%(absent)s))
    returning 1
)

select count(*) as rows_deleted
from deleted
