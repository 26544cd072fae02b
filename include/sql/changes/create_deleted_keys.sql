-- Holds the keys Change Tracking reports deleted since the entity's last version; dropped at commit.
create temp table {{ deleted }} on commit drop as
select {{ key | join(", ") }}
from {{ target }}
with no data
