-- Each side of a drift comparison summed per owner, without joining them: rows, the sum of a 64-bit hash of each whole
-- row, the money sums. An owner whose two sums are equal holds the same rows on both sides (up to a 64-bit hash
-- coincidence), so compare_stage.sql would find no drift of theirs; only the owners whose sums differ need the join.
-- Each side leaves out, on its own, the rows compare_stage.sql leaves out by pair: rows at or above pending_from, rows
-- of customers whose scope changed, portal rows at or above newer_from. Where a pair is left out for one side's row
-- only (a row pending in ASPIRE, its older version still in the portal), that owner's sums differ and the join
-- decides: summing never finds "the same" where the pairs would find drift (ADR 0013).
-- Returns: how many owners differ, those owners (a null owner as the smallest bigint; null when more than
-- most_owners), and the rows and money sums of the owners that do not differ. With of_owners: per owner of those,
-- both sides' rows and money sums.
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
{%- if of_owners %}
      and coalesce(s.{{ per }}, -9223372036854775808) = any(%(of_owners)s)
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
{%- if of_owners %}
      and coalesce(t.{{ per }}, -9223372036854775808) = any(%(of_owners)s)
{%- endif %}
{%- for column in scope_columns %}
      and coalesce(t.{{ column }}, 0)
          <> all(cast(%(scope_{{ "contracts" if column == "contract_oid" else "accounts" }})s as bigint[]))
{%- endfor %}
    group by 1
),

owners as (
    select
        d.owner,
        cast(coalesce(sum(d.row_count) filter (where d.aspire), 0) as bigint) as aspire_rows,
        cast(coalesce(sum(d.row_count) filter (where not d.aspire), 0) as bigint) as portal_rows,
{%- for m in money %}
        coalesce(sum(d.money_{{ loop.index }}) filter (where d.aspire), 0) as aspire_{{ loop.index }},
        coalesce(sum(d.money_{{ loop.index }}) filter (where not d.aspire), 0) as portal_{{ loop.index }},
{%- endfor %}
        coalesce(sum(d.row_count) filter (where d.aspire), 0) <> coalesce(sum(d.row_count) filter (where not d.aspire), 0)
            or coalesce(sum(d.row_hash) filter (where d.aspire), 0)
               <> coalesce(sum(d.row_hash) filter (where not d.aspire), 0)
{%- for m in money %}
            or coalesce(sum(d.money_{{ loop.index }}) filter (where d.aspire), 0)
               <> coalesce(sum(d.money_{{ loop.index }}) filter (where not d.aspire), 0)
{%- endfor %}
            as differs
    from (
        select true as aspire, a.* from aspire as a
        union all
        select false, p.* from portal as p
    ) as d
    group by d.owner
)
{% if of_owners %}
select
    o.owner,
    o.aspire_rows,
    o.portal_rows
{%- for m in money %},
    o.aspire_{{ loop.index }},
    o.portal_{{ loop.index }}
{%- endfor %}
from owners as o
{%- else %}
select
    count(*) filter (where o.differs) as owners_differing,
    case
        when count(*) filter (where o.differs) <= %(most_owners)s
            then coalesce(array_agg(coalesce(o.owner, -9223372036854775808)) filter (where o.differs), '{}')
    end as owners,
    cast(coalesce(sum(o.aspire_rows) filter (where not o.differs), 0) as bigint) as rows_alike
{%- for m in money %},
    coalesce(sum(o.aspire_{{ loop.index }}) filter (where not o.differs), 0) as money_alike_{{ loop.index }}
{%- endfor %}
from owners as o
{%- endif %}
