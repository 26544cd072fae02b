-- Applies the staged rows to the target. New keys are inserted; a row is updated only when the staged
-- source_rowver is newer (newest wins, whatever order loads run in). Rows read again unchanged (same row
-- version) are found by an anti-join first, so they cost neither a row lock nor WAL. With `repair` (the daily
-- refresh, which reconciles), a row at the same row version whose values differ is put back to ASPIRE's too: only
-- a change made in the portal outside the sync can cause that, and ASPIRE's row at that version is the truth.
with changed as (
    select s.*
{%- if dedupe %}
    from (
        -- a row read by two passes (a changed row of a contract new to the scope) is written once, newest first
        select distinct on ({{ key | join(", ") }}) *
        from {{ stage }}
        order by {{ key | join(", ") }}, source_rowver desc
    ) as s
{%- else %}
    from {{ stage }} as s
{%- endif %}
    left join {{ target }} as t
        on {% for k in key %}t.{{ k }} = s.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
    where t.{{ key[0] }} is null
       or s.source_rowver > t.source_rowver
{%- if repair %}
       or (s.source_rowver = t.source_rowver
           and row({% for c in columns %}s.{{ c }}{{ ", " if not loop.last }}{% endfor %})
               is distinct from row({% for c in columns %}t.{{ c }}{{ ", " if not loop.last }}{% endfor %}))
{%- endif %}
),

written as (
    insert into {{ target }} as t ({{ columns | join(", ") }}, synced_at)
    select {{ columns | join(", ") }}, %(synced_at)s
    from changed
    on conflict ({{ key | join(", ") }}) do update
    set {% for c in updated %}{{ c }} = excluded.{{ c }},
        {% endfor %}synced_at = excluded.synced_at
    where t.source_rowver {{ "<=" if repair else "<" }} excluded.source_rowver
    returning (t.xmax = 0) as inserted
)

select
    count(*) filter (where inserted) as rows_inserted,
    count(*) filter (where not inserted) as rows_updated
from written
