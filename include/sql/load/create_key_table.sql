-- A temp table for keys read from ASPIRE (changed in the window, present now, or reported deleted), shaped like the
-- target's key; dropped at commit.
create temp table {{ table }} on commit drop as
select {{ key | join(", ") }}
from {{ target }}
with no data
