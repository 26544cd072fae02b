-- Compares one entity's staged rows (ASPIRE's in-scope data, as the load read it) with its portal table, per owner
-- (the entity's `per` column: an account or a contract; one group for shared reference data): row counts, keys only
-- one side has, rows whose values differ, and the sums of the money columns. Each side is counted under its own
-- owner, so a row the portal files under another customer is missing for one and extra for the other (moved_out,
-- moved_in), and one changed row in the totals.
-- Left out: with pending_from, rows at or above that row version on either side (changed after the portal's last
-- read: pending, not drift); rows of the accounts and contracts in scope_accounts / scope_contracts (their scope
-- changed since the entity's last load); with newer_from, portal rows the stage lacks at or above that row version
-- (read by a load newer than this one: no delete may take them).
-- With owners (the owners whose sums differ, sum_sides.sql; null_owner: rows without one among them): only the pairs
-- with a row of one of them on either side, the others holding the same rows. Read as the portal's rows of those
-- owners (by the owner column's index), the stage's rows of those owners or of those rows' keys (one scan), and the
-- portal's rows of the keys of those stage rows. The owners are joined as a relation (a hash), not tested by
-- `= any(array)`, which walks the array for every row; and a join, not IN within OR, which PostgreSQL runs as a
-- subplan that, outgrowing work_mem, would run once per row.
with
{%- if owners %}
differing as materialized (
    select distinct d.owner from unnest(cast(%(owners)s as bigint[])) as d (owner)
),

target_of as materialized (
    select t.*
    from {{ target }} as t
    inner join differing as d on d.owner = t.{{ per }}
    union all
    select t.* from {{ target }} as t where t.{{ per }} is null and %(null_owner)s
),

stage_in as materialized (
    select s.*, d.owner is not null or (s.{{ per }} is null and %(null_owner)s) as of_owners
    from {{ stage }} as s
    left join differing as d on d.owner = s.{{ per }}
    left join target_of as o
        on {% for k in key %}o.{{ k }} = s.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
    where d.owner is not null or (s.{{ per }} is null and %(null_owner)s) or o.{{ key[0] }} is not null
),

target_in as (
    select * from target_of
    union all
    select t.*
    from {{ target }} as t
    inner join (
        select distinct {% for k in key %}s.{{ k }}{{ ", " if not loop.last }}{% endfor %} from stage_in as s where s.of_owners
    ) as k on {% for k in key %}k.{{ k }} = t.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
    left join differing as d on d.owner = t.{{ per }}
    where d.owner is null and not (t.{{ per }} is null and %(null_owner)s)
),
{%- endif %}

joined as (
    select
{%- if per %}
        s.{{ per }} as aspire_owner,
        t.{{ per }} as portal_owner,
{%- else %}
        cast(null as bigint) as aspire_owner,
        cast(null as bigint) as portal_owner,
{%- endif %}
        s.{{ key[0] }} is not null as in_aspire,
        t.{{ key[0] }} is not null as in_portal,
        s.{{ key[0] }} is not null and t.{{ key[0] }} is not null
            and row({% for c in columns %}s.{{ c }}{{ ", " if not loop.last }}{% endfor %})
                is distinct from row({% for c in columns %}t.{{ c }}{{ ", " if not loop.last }}{% endfor %})
            as changed
{%- for m in money %},
        s.{{ m }} as aspire_{{ loop.index }},
        t.{{ m }} as portal_{{ loop.index }}
{%- endfor %}
    from {{ "stage_in" if owners else stage }} as s
    full join {{ "target_in" if owners else target }} as t
        on {% for k in key %}t.{{ k }} = s.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
    where (cast(%(pending_from)s as bigint) is null
           or (coalesce(s.source_rowver, 0) < %(pending_from)s and coalesce(t.source_rowver, 0) < %(pending_from)s))
      and (cast(%(newer_from)s as bigint) is null or s.{{ key[0] }} is not null or t.source_rowver < %(newer_from)s)
{%- for column in scope_columns %}
      and coalesce(s.{{ column }}, t.{{ column }}, 0)
          <> all(cast(%(scope_{{ "contracts" if column == "contract_oid" else "accounts" }})s as bigint[]))
{%- endfor %}
),

-- One pass: the join is grouped by its pair of owners (as many groups as customers, not rows), and only those small
-- groups are split into each side's owner; counting each row on both sides of a union of the join materialised it
-- and aggregated it twice (half of a large entity's daily refresh).
pairs as (
    select
        j.aspire_owner,
        j.portal_owner,
        count(*) filter (where j.in_aspire) as aspire_rows,
        count(*) filter (where j.in_portal) as portal_rows,
        count(*) filter (where j.in_aspire and not j.in_portal) as missing_keys,
        count(*) filter (where j.in_portal and not j.in_aspire) as extra_keys,
        count(*) filter (where j.changed) as changed_rows,
        count(*) filter (where j.in_aspire and j.in_portal) as both_rows
{%- for m in money %},
        sum(j.aspire_{{ loop.index }}) as aspire_{{ loop.index }},
        sum(j.portal_{{ loop.index }}) as portal_{{ loop.index }}
{%- endfor %}
    from joined as j
    group by j.aspire_owner, j.portal_owner
),

sides as (
    select
        p.aspire_owner as owner,
        p.aspire_rows,
        0 as portal_rows,
        p.missing_keys,
        0 as extra_keys,
        case when p.aspire_owner is not distinct from p.portal_owner then p.changed_rows else 0 end as changed_rows,
        case when p.aspire_owner is distinct from p.portal_owner then p.both_rows else 0 end as moved_out,
        0 as moved_in
{%- for m in money %},
        p.aspire_{{ loop.index }},
        0 as portal_{{ loop.index }}
{%- endfor %}
    from pairs as p
    where p.aspire_rows > 0
    union all
    select
        p.portal_owner,
        0,
        p.portal_rows,
        0,
        p.extra_keys,
        0,
        0,
        case when p.aspire_owner is distinct from p.portal_owner then p.both_rows else 0 end
{%- for m in money %},
        0,
        p.portal_{{ loop.index }}
{%- endfor %}
    from pairs as p
    where p.portal_rows > 0
),

final as (
    select
        owner,
        cast(sum(aspire_rows) as bigint) as aspire_rows,
        cast(sum(portal_rows) as bigint) as portal_rows,
        cast(sum(missing_keys) as bigint) as missing_keys,
        cast(sum(extra_keys) as bigint) as extra_keys,
        cast(sum(changed_rows) as bigint) as changed_rows,
        cast(sum(moved_out) as bigint) as moved_out,
        cast(sum(moved_in) as bigint) as moved_in
{%- for m in money %},
        coalesce(sum(aspire_{{ loop.index }}), 0) as aspire_{{ loop.index }},
        coalesce(sum(portal_{{ loop.index }}), 0) as portal_{{ loop.index }}
{%- endfor %}
    from sides
    group by owner
)

select * from final
