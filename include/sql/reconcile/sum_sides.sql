-- Each side of a drift comparison summed per owner, without joining them: rows and the sum of a 64-bit hash of each
-- whole row (and the money sums). An owner whose two sums are equal holds the same rows on both sides (up to a 64-bit hash
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
{%- if of_owners %}
{%- for m in money %},
        sum(s.{{ m }}) as money_{{ loop.index }}
{%- endfor %}
{%- endif %}
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

-- The hash covers every column: equal counts and hash sums mean the same rows, and so the same money; ASPIRE's
-- money is summed only where asked (of_owners), the portal's (read in parallel) gives the equal owners' money.
owners as (
    select
        coalesce(a.owner, p.owner) as owner,
        coalesce(a.row_count, 0) as aspire_rows,
        coalesce(p.row_count, 0) as portal_rows,
{%- for m in money %}
{%- if of_owners %}
        coalesce(a.money_{{ loop.index }}, 0) as aspire_{{ loop.index }},
{%- endif %}
        coalesce(p.money_{{ loop.index }}, 0) as portal_{{ loop.index }},
{%- endfor %}
        coalesce(a.row_count, 0) <> coalesce(p.row_count, 0) or coalesce(a.row_hash, 0) <> coalesce(p.row_hash, 0)
            as differs
    from aspire as a
    full join portal as p on coalesce(p.owner, -9223372036854775808) = coalesce(a.owner, -9223372036854775808)
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
    cast(coalesce(sum(o.portal_rows) filter (where not o.differs), 0) as bigint) as rows_alike
{%- for m in money %},
    coalesce(sum(o.portal_{{ loop.index }}) filter (where not o.differs), 0) as money_alike_{{ loop.index }}
{%- endfor %}
from owners as o
{%- endif %}
