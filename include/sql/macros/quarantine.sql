{#- The key of a row of `alias` as the JSON object aspire_sync.source_quarantine keeps ({"invoice_oid": 42}), from
    the context's `key` (quoted column names) and `key_names` (the same, as the catalogue spells them). -#}
{% macro row_key(alias) -%}
jsonb_build_object({% for k in key %}'{{ key_names[loop.index0] }}', {{ alias }}.{{ k }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
