-- Takes the rejected rows out of the stage: ASPIRE's version of them is not written.
delete from {{ stage }} as s
using {{ rejected }} as r
where {% for k in key %}r.{{ k }} = s.{{ k }}{{ " and " if not loop.last }}{% endfor %}
