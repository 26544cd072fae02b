-- The keys of the rows of one table changed in the load's window, whatever their scope. Those the extract did
-- not return (moved to another account or contract, or their contract left the scope) leave the portal. Keys
-- only: nothing else of another customer leaves ASPIRE. A backfill's window (LastModifiedAt) also takes rows only
-- below the read bound: this runs after the extract, and a row written since (ASPIRE's clock can stamp it inside
-- the window: the repeated hour of a DST change, a clock ahead) is one the extract could not return, not one that
-- left the scope.
{% import "macros/aspire.sql" as aspire with context %}
select
    {% for source_column, target_column in keys -%}
    x.{{ source_column }} as {{ target_column }}{% if not loop.last %},{% endif %}
    {% endfor -%}
from {{ source_table }} as x
where 1 = 1
  {{ aspire.change_filter("x", parent=parent, source=(source_table, keys[0][0]) if parent else none) }}
  {%- if load_kind == "backfill" %}
  and {{ aspire.below_read_bound("x.RowVer") }}
  {%- endif %}
