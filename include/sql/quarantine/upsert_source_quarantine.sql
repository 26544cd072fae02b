-- Keeps the rows a load could not write (see aspire_sync.source_quarantine): new ones are added, those seen before
-- are counted again; returns each, and whether it is new, for the load's log and alert.
{% import "macros/quarantine.sql" as quarantine with context %}
insert into aspire_sync.source_quarantine as q (entity, row_key, source_rowver, problems, first_run_id, last_run_id)
select %(entity)s, {{ quarantine.row_key("r") }}, r.source_rowver, r.problems, %(run_id)s, %(run_id)s
from (
    -- a row read by two passes is rejected once
    select distinct on ({{ key | join(", ") }}) *
    from {{ rejected }}
    order by {{ key | join(", ") }}, source_rowver desc
) as r
on conflict (entity, row_key) do update
set source_rowver = excluded.source_rowver,
    problems = excluded.problems,
    last_seen_at = now(),
    last_run_id = excluded.last_run_id,
    times_seen = q.times_seen + 1
returning q.row_key::text, q.problems, (q.xmax = 0) as is_new
