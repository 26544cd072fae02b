-- Every quarantined source row, oldest first (for `status` and `explain`).
select q.entity, q.row_key::text as row_key, q.problems, q.first_seen_at, q.last_seen_at, q.times_seen,
       q.source_rowver, q.last_run_id
from aspire_sync.source_quarantine as q
{%- if one %}
where q.entity = %(entity)s and q.row_key = cast(%(row_key)s as jsonb)
{%- endif %}
order by q.first_seen_at, q.entity, q.row_key
