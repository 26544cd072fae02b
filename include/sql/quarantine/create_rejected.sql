-- The rows a load could not take: their key, the columns that say whose they are, their row version and what is
-- wrong with them; dropped at commit.
create temp table {{ rejected }} on commit drop as
select {{ (key + owners) | join(", ") }}, source_rowver, cast('' as text) as problems
from {{ stage }}
with no data
