-- Deletes the rows a full load over every enrolled customer did not read: gone from ASPIRE or out of scope.
-- Rows at or above the load's read bound were written by a newer read and are left alone.
with deleted as (
    delete from {{ target }} as t
    where t.source_rowver < %(high_rowver)s
      and not exists (
            select 1
            from {{ stage }} as s
            where {% for k in key %}s.{{ k }} = t.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
      )
    returning 1
)

select count(*) as rows_deleted
from deleted
