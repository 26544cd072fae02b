-- How many rows the target table holds now (in the load's transaction: after its merge and deletes).
select count(*) as row_count
from {{ target }}
