-- Puts the portal's own values back into the staged rows the merge rejected, so the load's deletes and its drift
-- check treat them as unchanged: the portal keeps the version it has until ASPIRE's can be taken.
update {{ stage }} as s
set {% for c in columns %}{{ c }} = t.{{ c }}{{ ", " if not loop.last }}{% endfor %}
from {{ target }} as t, {{ rejected }} as r
where {% for k in key %}t.{{ k }} = s.{{ k }} and r.{{ k }} = s.{{ k }}{{ " and " if not loop.last }}{% endfor %}
