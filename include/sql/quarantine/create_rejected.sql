-- The keys of the rows a checked merge did not write, with what is wrong with each; dropped at commit.
create temp table {{ rejected }} on commit drop as
select {{ key | join(", ") }}, source_rowver, cast('' as text) as problems
from {{ stage }}
with no data
