-- Creates the session's staging table for one load: the target's columns (without synced_at), dropped at commit.
create temp table {{ stage }} on commit drop as
select {{ columns | join(", ") }}
from {{ target }}
with no data
