-- Every key of one ASPIRE table, read through its primary key alone (no other column, no scope, no row version):
-- a portal row whose key is not among them was deleted in ASPIRE. Keys only: nothing else of another customer leaves
-- ASPIRE.
select
    {% for source_column, target_column in keys -%}
    x.{{ source_column }} as {{ target_column }}{% if not loop.last %},{% endif %}
    {% endfor -%}
from {{ source_table }} as x
