-- Holds the keys of the rows ASPIRE changed in the load's window, whatever their scope; dropped at commit.
create temp table {{ changed }} on commit drop as
select {{ key | join(", ") }}
from {{ target }}
with no data
