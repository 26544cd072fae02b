-- How many portal rows whose key ASPIRE no longer has a key check kept because a read newer than its load wrote them
-- (at or above its read bound): the next run must check every key again rather than trust Change Tracking past them.
select count(*)
from {{ target }} as t
where t.source_rowver >= %(read_bound)s
  and not exists (
        select 1
        from {{ existing }} as e
        where {% for k in key %}e.{{ k }} = t.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
  )
