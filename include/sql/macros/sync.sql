{#- Pieces of the sync's own SQL (schema aspire_sync) that more than one statement needs. -#}

{#- Enrolled accounts with no full sync completed since their latest portal link (the portal's trigger was lost, the
    run failed, or the account was un-enrolled and linked again). Enrolment values in quarantine (not a positive
    bigint, or no ASPIRE account: see scope.enrolled_accounts) are left out. -#}
{% macro customers_without_full_sync() -%}
select e.account_oid, e.linked_at, s.full_sync_completed_at, s.full_sync_requested_at
    from (
        select pua.account_oid, max(pua.linked_at) as linked_at
        from portal.portal_user_account as pua
        where pua.account_oid > 0
          and not exists (
                select 1 from aspire_sync.enrolment_quarantine as q where q.account_oid = pua.account_oid::text)
        group by pua.account_oid
    ) as e
    left join aspire_sync.customer_sync_status as s on s.account_oid = e.account_oid
    where s.full_sync_completed_at is null or s.full_sync_completed_at < e.linked_at
{%- endmacro %}
