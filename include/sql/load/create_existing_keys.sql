-- Holds every key ASPIRE's table has now (the key check for rows deleted in ASPIRE); dropped at commit.
create temp table {{ existing }} on commit drop as
select {{ key | join(", ") }}
from {{ target }}
with no data
