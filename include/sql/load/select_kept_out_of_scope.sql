-- The owners of the rows delete_out_of_scope.sql would have deleted but for the read bound (their row version is
-- at or above it: a newer read wrote them). The entity keeps holding those accounts and contracts, so a later run,
-- whose bound is past them, looks at them again.
{% import "macros/out_of_scope.sql" as out_of_scope %}
{% set where -%}
t.source_rowver >= %(read_bound)s
      {{- out_of_scope.unjustified(stage, key, owner, mode, taken_by) }}
{%- endset %}
{{ out_of_scope.owners_of(target, owner, where) }}
