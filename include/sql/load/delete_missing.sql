-- Deletes the target rows the extract did not return: after a full load over every enrolled customer, any row
-- (gone from ASPIRE or out of scope); with `changed`, only the rows ASPIRE changed in the load's window (they
-- moved out of the scope: to another account or contract, or their contract did). Rows at or above the load's
-- read bound were written by a newer read and are left alone.
with deleted as (
    delete from {{ target }} as t
{%- if changed %}
    using {{ changed }} as c
    where {% for k in key %}c.{{ k }} = t.{{ k }} and {% endfor %}t.source_rowver < %(read_bound)s
{%- else %}
    where t.source_rowver < %(read_bound)s
{%- endif %}
      and not exists (
            select 1
            from {{ stage }} as s
            where {% for k in key %}s.{{ k }} = t.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
      )
    returning 1
)

select count(*) as rows_deleted
from deleted
