-- Applies the staged rows to the target. New keys are inserted; a row is updated only when the staged
-- source_rowver is newer (newest wins, whatever order loads run in). Rows read again unchanged (same row
-- version) are found by an anti-join first, so they cost neither a row lock nor WAL. With `repair` (the daily
-- refresh, which reconciles), a row at the same row version whose values differ is put back to ASPIRE's too: only
-- a change made in the portal outside the sync can cause that, and ASPIRE's row at that version is the truth.
-- With `rebaseline` (after ASPIRE went back in time: its row versions are of a new timeline), every staged row whose
-- values or row version differ from the portal's is written, whatever the row versions say.
-- With `checks` (the merge again, after one failed on a row the portal cannot take), each row to be written is
-- checked first (a NULL where the target needs a value, a value beyond the target column's range or length; the
-- stage's columns are wider than the target's): a row that fails is not written, its key and what is wrong with it
-- go to `rejected` (then aspire_sync.source_quarantine), and every other row is written.
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
{%- if rebaseline %}
       or row(s.source_rowver, {% for c in columns %}s.{{ c }}{{ ", " if not loop.last }}{% endfor %})
          is distinct from row(t.source_rowver, {% for c in columns %}t.{{ c }}{{ ", " if not loop.last }}{% endfor %})
{%- else %}
       or s.source_rowver > t.source_rowver
{%- endif %}
{%- if repair %}
       or (s.source_rowver = t.source_rowver
           and row({% for c in columns %}s.{{ c }}{{ ", " if not loop.last }}{% endfor %})
               is distinct from row({% for c in columns %}t.{{ c }}{{ ", " if not loop.last }}{% endfor %}))
{%- endif %}
),
{%- if checks %}

checked as (
    select c.*,
           concat_ws('; '
{%- for predicate, problem in checks %},
               case when {{ predicate }} then '{{ problem | replace("'", "''") | replace("%", "%%") }}' end
{%- endfor %}) as problems
    from changed as c
),

rejected as (
    insert into {{ rejected }} ({{ (key + owners) | join(", ") }}, source_rowver, problems)
    select {{ (key + owners) | join(", ") }}, source_rowver, problems
    from checked
    where problems <> ''
    returning 1
),
{%- endif %}

written as (
    insert into {{ target }} as t ({{ columns | join(", ") }}, synced_at)
    select {{ columns | join(", ") }}, %(synced_at)s
{%- if checks %}
    from checked
    where problems = ''
{%- else %}
    from changed
{%- endif %}
    on conflict ({{ key | join(", ") }}) do update
    set {% for c in updated %}{{ c }} = excluded.{{ c }},
        {% endfor %}synced_at = excluded.synced_at
{%- if rebaseline %}
    where true
{%- else %}
    where t.source_rowver {{ "<=" if repair else "<" }} excluded.source_rowver
{%- endif %}
    returning (t.xmax = 0) as inserted
)

select
    count(*) filter (where inserted) as rows_inserted,
    count(*) filter (where not inserted) as rows_updated,
    {% if checks %}(select count(*) from rejected){% else %}0{% endif %} as rows_rejected
from written
