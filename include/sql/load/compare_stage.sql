-- Compares one entity's staged rows (ASPIRE's in-scope data, as the load read it) with its portal table, per owner
-- (the entity's `per` column: an account or a contract; one group for shared reference data): row counts, keys
-- only one side has, rows whose values differ, and the sums of the money columns. With %(pending_from)s, rows at or
-- above that row version on either side are left out: they changed after the portal's last read and are pending,
-- not drift.
with joined as (
    select
{%- if per %}
        coalesce(s.{{ per }}, t.{{ per }}) as owner,
{%- else %}
        cast(null as bigint) as owner,
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
    where %(pending_from)s::bigint is null
       or (coalesce(s.source_rowver, 0) < %(pending_from)s and coalesce(t.source_rowver, 0) < %(pending_from)s)
),

final as (
    select
        owner,
        count(*) filter (where in_aspire) as aspire_rows,
        count(*) filter (where in_portal) as portal_rows,
        count(*) filter (where in_aspire and not in_portal) as missing_keys,
        count(*) filter (where in_portal and not in_aspire) as extra_keys,
        count(*) filter (where changed) as changed_rows
{%- for m in money %},
        coalesce(sum(aspire_{{ loop.index }}), 0) as aspire_{{ loop.index }},
        coalesce(sum(portal_{{ loop.index }}), 0) as portal_{{ loop.index }}
{%- endfor %}
    from joined
    group by owner
)

select * from final
