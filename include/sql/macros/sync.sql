{#- Pieces of the sync's own SQL (schema aspire_sync) that more than one statement needs. -#}

{#- The ASPIRE AccountOid one value of the portal's enrolment column spells, as bigint, whatever the column's type (the
    portal owns it and may change it): an integer, a numeric with no fraction, or text of digits; null when it spells
    none (not a whole number from 1 to 9223372036854775807). An integer column takes the cheap path; any other is read
    with validation.account_oid_from_text's pattern, whose digits-only substring makes the casts safe. -#}
{% macro account_oid_of(column) -%}
(case when pg_typeof({{ column }}) in ('bigint'::regtype, 'integer'::regtype, 'smallint'::regtype)
      then nullif(greatest({{ column }}::text::bigint, 0), 0)
      when substring({{ column }}::text from '^[ \t\n\r\f\v]*\+?0*([1-9][0-9]{0,18})(?:\.0*)?[ \t\n\r\f\v]*$')::numeric
           <= 9223372036854775807
      then substring({{ column }}::text from '^[ \t\n\r\f\v]*\+?0*([1-9][0-9]{0,18})(?:\.0*)?[ \t\n\r\f\v]*$')::bigint
 end)
{%- endmacro %}

{#- Enrolled accounts with no full sync completed since their latest portal link (the portal's trigger was lost, the
    run failed, or the account was un-enrolled and linked again). Enrolment values in quarantine (not an AccountOid,
    or no ASPIRE account: see scope.enrolled_accounts) are left out. -#}
{% macro customers_without_full_sync() -%}
select e.account_oid, e.linked_at, s.full_sync_completed_at, s.full_sync_requested_at
    from (
        select v.account_oid, max(pua.linked_at) as linked_at
        from portal.portal_user_account as pua
        cross join lateral (
            select {{ account_oid_of("pua.account_oid") }} as account_oid, pua.account_oid::text as raw
        ) as v
        where v.account_oid is not null
          and not exists (
                select 1 from aspire_sync.enrolment_quarantine as q
                where q.account_oid in (v.raw, v.account_oid::text))
        group by v.account_oid
    ) as e
    left join aspire_sync.customer_sync_status as s on s.account_oid = e.account_oid
    where s.full_sync_completed_at is null or s.full_sync_completed_at < e.linked_at
{%- endmacro %}
