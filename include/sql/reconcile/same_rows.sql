-- Whether the staged rows and the portal table hold the same rows per owner, without joining them: each side is
-- summarised per owner (rows, the sum of a 64-bit hash of each whole row, the money sums), and the owners whose
-- summaries differ are counted. Zero differing owners means the same rows (up to a 64-bit hash coincidence), and then
-- compare_stage.sql would find no drift; anything else, or any doubt, is left to compare_stage.sql.
-- Each side leaves out, on its own, the rows compare_stage.sql leaves out by pair: rows at or above pending_from, rows
-- of customers whose scope changed, portal rows at or above newer_from. Where a pair is left out for one side's row
-- only (a row pending in ASPIRE, its older version still in the portal), the sides differ here and
-- compare_stage.sql decides: summing alone never finds "the same" where the pairs would find drift.
with aspire as (
    select
{%- if per %}
        s.{{ per }} as owner,
{%- else %}
        cast(null as bigint) as owner,
{%- endif %}
        count(*) as row_count,
        sum(hash_record_extended(row({% for c in columns %}s.{{ c }}{{ ", " if not loop.last }}{% endfor %}), 0))
            as row_hash
{%- for m in money %},
        sum(s.{{ m }}) as money_{{ loop.index }}
{%- endfor %}
    from {{ stage }} as s
    where true
{%- if pending %}
      and coalesce(s.source_rowver, 0) < %(pending_from)s
{%- endif %}
{%- for column in scope_columns %}
      and coalesce(s.{{ column }}, 0)
          <> all(cast(%(scope_{{ "contracts" if column == "contract_oid" else "accounts" }})s as bigint[]))
{%- endfor %}
    group by 1
),

portal as (
    select
{%- if per %}
        t.{{ per }} as owner,
{%- else %}
        cast(null as bigint) as owner,
{%- endif %}
        count(*) as row_count,
        sum(hash_record_extended(row({% for c in columns %}t.{{ c }}{{ ", " if not loop.last }}{% endfor %}), 0))
            as row_hash
{%- for m in money %},
        sum(t.{{ m }}) as money_{{ loop.index }}
{%- endfor %}
    from {{ target }} as t
    where true
{%- if pending %}
      and coalesce(t.source_rowver, 0) < %(pending_from)s
{%- endif %}
{%- if newer %}
      and t.source_rowver < %(newer_from)s
{%- endif %}
{%- for column in scope_columns %}
      and coalesce(t.{{ column }}, 0)
          <> all(cast(%(scope_{{ "contracts" if column == "contract_oid" else "accounts" }})s as bigint[]))
{%- endfor %}
    group by 1
),

differing as (
    select d.owner
    from (
        select a.owner, a.row_count, a.row_hash{% for m in money %}, coalesce(a.money_{{ loop.index }}, 0) as money_{{ loop.index }}{% endfor %}
        from aspire as a
        union all
        select p.owner, -p.row_count, -p.row_hash{% for m in money %}, -coalesce(p.money_{{ loop.index }}, 0){% endfor %}
        from portal as p
    ) as d
    group by d.owner
    having sum(d.row_count) <> 0 or sum(d.row_hash) <> 0{% for m in money %} or sum(d.money_{{ loop.index }}) <> 0{% endfor %}
)

select
    (select count(*) from differing) as owners_differing,
    (select cast(coalesce(sum(a.row_count), 0) as bigint) from aspire as a) as aspire_rows,
    (select cast(coalesce(sum(p.row_count), 0) as bigint) from portal as p) as portal_rows
{%- for m in money %},
    (select coalesce(sum(a.money_{{ loop.index }}), 0) from aspire as a) as aspire_{{ loop.index }},
    (select coalesce(sum(p.money_{{ loop.index }}), 0) from portal as p) as portal_{{ loop.index }}
{%- endfor %}
