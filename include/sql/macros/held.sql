{#- Whether a held account or contract (alias `a` of entity_account_scope / entity_contract_scope) was taken in by a
    load the judging scope cannot know, so its rows stay (parameter taken_from): with `taken_by` "since", at or after
    the scope's own resolution (a scope of everyone: the taking scope was newer); with "taken_xid", by a transaction
    the scope's others_snapshot does not see (a customer scope: committed after the base it knows the others by). -#}
{% macro taken(a, taken_by) -%}
{%- if taken_by == "since" -%}
{{ a }}.since >= %(taken_from)s
{%- else -%}
({{ a }}.taken_xid is not null and not pg_visible_in_snapshot({{ a }}.taken_xid, cast(%(taken_from)s as pg_snapshot)))
{%- endif %}
{%- endmacro %}
