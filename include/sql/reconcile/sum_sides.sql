-- Each side of a drift comparison summed per owner, without joining them: rows, and the sum of a 64-bit hash of each
-- whole row (the portal's side also sums the money). An owner whose two sums are equal holds the same rows on both
-- sides (up to a 64-bit hash coincidence), so compare_stage.sql would find no drift of theirs; only the owners whose
-- sums differ need the join. Each row's hash is hash_record_extended's hashed again: that one combines its columns'
-- hashes linearly, so its sum over rows would not change when two rows of an owner swap a value (a memo, a principal
-- and an interest), which is drift.
-- Each side leaves out, on its own, the rows compare_stage.sql leaves out by pair: rows at or above pending_from, rows
-- of customers whose scope changed, portal rows at or above newer_from. Where a pair is left out for one side's row
-- only (a row pending in ASPIRE, its older version still in the portal), that owner's sums differ and the join
-- decides: summing never finds "the same" where the pairs would find drift (ADR 0013).
-- Returns: how many owners differ, those owners (null when more than most_owners) and whether rows without an owner
-- differ, and the rows and money sums of the owners that do not differ. With of_owners (and of_null_owner): per
-- owner of those, both sides' rows and money sums. With unwritten (the comparison before a merge): also, from the same
-- scans, how many owners the comparison after the merge will find differing if the merge and the deletes write
-- nothing (every staged row against the portal's rows below unwritten_from, when given), and its rows and money.
{#- Which of a side's rows the comparison keeps: `a` its alias; `newer_left_out` whether it leaves out rows at or
    above newer_from (the portal's side only). -#}
{% macro kept(a, newer_left_out) -%}
true
{%- if pending %}
      and coalesce({{ a }}.source_rowver, 0) < %(pending_from)s
{%- endif %}
{%- if newer_left_out %}
      and {{ a }}.source_rowver < %(newer_from)s
{%- endif %}
{%- if of_owners %}
      and ({{ a }}.{{ per }} = any(%(of_owners)s) or ({{ a }}.{{ per }} is null and %(of_null_owner)s))
{%- endif %}
{%- for column in scope_columns %}
      and coalesce({{ a }}.{{ column }}, 0)
          <> all(cast(%(scope_{{ "contracts" if column == "contract_oid" else "accounts" }})s as bigint[]))
{%- endfor %}
{%- endmacro %}
{#- The hash of one row of `a`. -#}
{% macro row_hash(a) -%}
hashtextextended(cast(hash_record_extended(row({% for c in columns %}{{ a }}.{{ c }}{{ ", " if not loop.last }}{% endfor %}), 0) as text), 0)
{%- endmacro %}
{#- A side's owner column. -#}
{% macro owner(a) -%}
{%- if per %}
        {{ a }}.{{ per }} as owner
{%- else %}
        cast(null as bigint) as owner
{%- endif %}
{%- endmacro %}
{#- A side's rows counted and hashed, and (`with_money`) their money summed. -#}
{% macro sums(a, with_money) -%}
        count(*) as row_count,
        sum({{ row_hash(a) }}) as row_hash
{%- if with_money %}
{%- for m in money %},
        sum({{ a }}.{{ m }}) as money_{{ loop.index }}
{%- endfor %}
{%- endif %}
{%- endmacro %}
{#- One side's sums per owner: `a` its alias; `with_money` whether it sums the money; `newer_left_out` whether it
    leaves out rows at or above newer_from (the portal's side only). With `unwritten`, also the sums the comparison
    after the merge takes of the same rows (`_after`: every row but, with `newer_after`, those at or above
    unwritten_from). -#}
{% macro side(table, a, with_money, newer_left_out, newer_after) -%}
{%- if unwritten %}
    select
        x.owner
{%- for suffix in ("", "_after") %},
        sum(x.row_count) filter (where x.kept{{ suffix }}) as row_count{{ suffix }},
        sum(x.row_hash) filter (where x.kept{{ suffix }}) as row_hash{{ suffix }}
{%- if with_money %}
{%- for m in money %},
        sum(x.money_{{ loop.index }}) filter (where x.kept{{ suffix }}) as money{{ suffix }}_{{ loop.index }}
{%- endfor %}
{%- endif %}
{%- endfor %}
    from (
        -- grouped by owner and by which comparisons keep the row: each row hashed once, each group summed twice
        select
        {{- owner(a) }},
        {{ kept(a, newer_left_out) }} as kept,
{%- if newer_after %}
        {{ a }}.source_rowver < %(unwritten_from)s as kept_after,
{%- else %}
        true as kept_after,
{%- endif %}
        {{ sums(a, with_money) }}
        from {{ table }} as {{ a }}
        group by 1, 2, 3
    ) as x
    group by 1
{%- else %}
    select
    {{- owner(a) }},
    {{ sums(a, with_money) }}
    from {{ table }} as {{ a }}
    where {{ kept(a, newer_left_out) }}
    group by 1
{%- endif %}
{%- endmacro %}

with aspire as (
{{ side(stage, "s", of_owners, false, false) }}
),

portal as (
{{ side(target, "t", true, newer, unwritten_newer) }}
),

-- The hash covers every column: equal counts and hash sums mean the same rows, and so the same money; ASPIRE's
-- money is summed only where asked (of_owners), the portal's (read in parallel) gives the equal owners' money.
-- (A union and a grouping, not a full join: rows without an owner are one group, as in the comparison.)
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
            as differs
{%- if unwritten %},
        cast(coalesce(sum(d.row_count_after) filter (where not d.aspire), 0) as bigint) as portal_rows_after,
{%- for m in money %}
        coalesce(sum(d.money_after_{{ loop.index }}) filter (where not d.aspire), 0) as portal_after_{{ loop.index }},
{%- endfor %}
        coalesce(sum(d.row_count_after) filter (where d.aspire), 0)
            <> coalesce(sum(d.row_count_after) filter (where not d.aspire), 0)
            or coalesce(sum(d.row_hash_after) filter (where d.aspire), 0)
               <> coalesce(sum(d.row_hash_after) filter (where not d.aspire), 0)
            as differs_after
{%- endif %}
    from (
        select true as aspire, a.owner, a.row_count, a.row_hash
{%- for m in money %}, {% if of_owners %}a.money_{{ loop.index }}{% else %}cast(null as numeric){% endif %}{% endfor %}
{%- if unwritten %}, a.row_count_after, a.row_hash_after{% for m in money %}, cast(null as numeric){% endfor %}{% endif %}
        from aspire as a
        union all
        select false, p.owner, p.row_count, p.row_hash{% for m in money %}, p.money_{{ loop.index }}{% endfor %}
{%- if unwritten %}, p.row_count_after, p.row_hash_after{% for m in money %}, p.money_after_{{ loop.index }}{% endfor %}{% endif %}
        from portal as p
    ) as d (aspire, owner, row_count, row_hash{% for m in money %}, money_{{ loop.index }}{% endfor %}
{%- if unwritten %}, row_count_after, row_hash_after{% for m in money %}, money_after_{{ loop.index }}{% endfor %}{% endif %})
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
        when count(*) filter (where o.differs and o.owner is not null) <= %(most_owners)s
            then coalesce(array_agg(o.owner) filter (where o.differs and o.owner is not null), '{}')
    end as owners,
    coalesce(bool_or(o.differs and o.owner is null), false) as null_owner_differs,
    cast(coalesce(sum(o.portal_rows) filter (where not o.differs), 0) as bigint) as rows_alike
{%- for m in money %},
    coalesce(sum(o.portal_{{ loop.index }}) filter (where not o.differs), 0) as money_alike_{{ loop.index }}
{%- endfor %}
{%- if unwritten %},
    count(*) filter (where o.differs_after) as owners_differing_after,
    cast(coalesce(sum(o.portal_rows_after), 0) as bigint) as rows_after
{%- for m in money %},
    coalesce(sum(o.portal_after_{{ loop.index }}), 0) as money_after_{{ loop.index }}
{%- endfor %}
{%- endif %}
from owners as o
{%- endif %}
