-- Which of the given keys of one table ASPIRE has now (a seek per key on its primary key).
{% import "macros/aspire.sql" as aspire with context %}
select x.{{ source_key }} as {{ key }}
from {{ source_table }} as x
where x.{{ source_key }} in ({{ aspire.id_list("keys") }})
