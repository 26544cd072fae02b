-- Compares one entity's staged rows (ASPIRE's in-scope data, as the load read it) with its portal table, per owner
-- (the entity's `per` column: an account or a contract; one group for shared reference data): row counts, keys only
-- one side has, rows whose values differ, and the sums of the money columns. Each side is counted under its own
-- owner, so a row the portal files under another customer is missing for one and extra for the other (moved_out,
-- moved_in), and one changed row in the totals.
-- Left out: with pending_from, rows at or above that row version on either side (changed after the portal's last
-- read: pending, not drift); rows of the accounts and contracts in scope_accounts / scope_contracts (their scope
-- changed since the entity's last load); with newer_from, portal rows the stage lacks at or above that row version
-- (read by a load newer than this one: no delete may take them).
with joined as (
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
    from {{ stage }} as s
    full join {{ target }} as t
        on {% for k in key %}t.{{ k }} = s.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
    where (cast(%(pending_from)s as bigint) is null
           or (coalesce(s.source_rowver, 0) < %(pending_from)s and coalesce(t.source_rowver, 0) < %(pending_from)s))
      and (cast(%(newer_from)s as bigint) is null or s.{{ key[0] }} is not null or t.source_rowver < %(newer_from)s)
{%- for column in scope_columns %}
      and coalesce(s.{{ column }}, t.{{ column }}, 0)
          <> all(cast(%(scope_{{ "contracts" if column == "contract_oid" else "accounts" }})s as bigint[]))
{%- endfor %}
),

sides as (
    select
        j.aspire_owner as owner,
        1 as aspire_rows,
        0 as portal_rows,
        case when not j.in_portal then 1 else 0 end as missing_keys,
        0 as extra_keys,
        case when j.changed and j.aspire_owner is not distinct from j.portal_owner then 1 else 0 end as changed_rows,
        case when j.in_portal and j.aspire_owner is distinct from j.portal_owner then 1 else 0 end as moved_out,
        0 as moved_in
{%- for m in money %},
        j.aspire_{{ loop.index }},
        0 as portal_{{ loop.index }}
{%- endfor %}
    from joined as j
    where j.in_aspire
    union all
    select
        j.portal_owner,
        0,
        1,
        0,
        case when not j.in_aspire then 1 else 0 end,
        0,
        0,
        case when j.in_aspire and j.aspire_owner is distinct from j.portal_owner then 1 else 0 end
{%- for m in money %},
        0,
        j.portal_{{ loop.index }}
{%- endfor %}
    from joined as j
    where j.in_portal
),

final as (
    select
        owner,
        sum(aspire_rows) as aspire_rows,
        sum(portal_rows) as portal_rows,
        sum(missing_keys) as missing_keys,
        sum(extra_keys) as extra_keys,
        sum(changed_rows) as changed_rows,
        sum(moved_out) as moved_out,
        sum(moved_in) as moved_in
{%- for m in money %},
        coalesce(sum(aspire_{{ loop.index }}), 0) as aspire_{{ loop.index }},
        coalesce(sum(portal_{{ loop.index }}), 0) as portal_{{ loop.index }}
{%- endfor %}
    from sides
    group by owner
)

select * from final
