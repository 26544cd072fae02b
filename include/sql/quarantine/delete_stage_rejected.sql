-- Drops from the stage the rejected rows the portal has no version of (nothing to keep, nothing to delete).
delete from {{ stage }} as s
using {{ rejected }} as r
where {% for k in key %}r.{{ k }} = s.{{ k }}{{ " and " if not loop.last }}{% endfor %}
  and not exists (
        select 1 from {{ target }} as t
        where {% for k in key %}t.{{ k }} = s.{{ k }}{{ " and " if not loop.last }}{% endfor %}
  )
