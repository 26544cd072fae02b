-- The owners of the rows a full load over every enrolled customer did not read and could not delete (at or above
-- its read bound: see delete_missing.sql). The entity keeps holding those accounts and contracts, so a later run
-- looks at them again.
{% import "macros/out_of_scope.sql" as out_of_scope %}
{% set where -%}
t.source_rowver >= %(read_bound)s
      and not exists (
            select 1
            from {{ stage }} as s
            where {% for k in key %}s.{{ k }} = t.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
      )
{%- endset %}
{{ out_of_scope.owners_of(target, owner, where) }}
