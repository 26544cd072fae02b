-- Deletes the rows ASPIRE changed in the window that the extract did not return: they left the scope (moved to
-- another account or contract, or their contract did). Rows at or above the read bound came from a newer read.
with deleted as (
    delete from {{ target }} as t
    using {{ changed }} as c
    where {% for k in key %}c.{{ k }} = t.{{ k }} and {% endfor %}t.source_rowver < %(high_rowver)s
      and not exists (
            select 1
            from {{ stage }} as s
            where {% for k in key %}s.{{ k }} = t.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
      )
    returning 1
)

select count(*) as rows_deleted
from deleted
