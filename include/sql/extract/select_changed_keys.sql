-- The keys of the rows of one table changed in the load's window, whatever their scope. Those the extract did
-- not return (moved to another account or contract, or their contract left the scope) leave the portal. Keys
-- only: nothing else of another customer leaves ASPIRE.
{% import "macros/aspire.sql" as aspire with context %}
select
    {% for source_column, target_column in keys -%}
    x.{{ source_column }} as {{ target_column }}{% if not loop.last %},{% endif %}
    {% endfor -%}
from {{ source_table }} as x
where 1 = 1
  {{ aspire.change_filter("x", parent=parent, source=(source_table, keys[0][0]) if parent else none) }}
