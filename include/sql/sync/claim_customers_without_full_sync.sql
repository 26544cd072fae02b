-- Enrolled accounts with no full sync completed since their latest portal link (the portal's trigger was lost,
-- the run failed, or the account was un-enrolled and linked again) and none requested recently; marks them
-- requested now, so the next run waits for the cool-down before asking again. Enrolment values in quarantine (not
-- a positive bigint, or no ASPIRE account: see scope.enrolled_accounts) are left out.
with enrolled as (
    select pua.account_oid, max(pua.linked_at) as linked_at
    from portal.portal_user_account as pua
    where pua.account_oid > 0
      and not exists (select 1 from aspire_sync.enrolment_quarantine as q where q.account_oid = pua.account_oid::text)
    group by pua.account_oid
),

due as (
    select e.account_oid
    from enrolled as e
    left join aspire_sync.customer_sync_status as s on s.account_oid = e.account_oid
    where (s.full_sync_completed_at is null or s.full_sync_completed_at < e.linked_at)
      and (s.full_sync_requested_at is null
           or s.full_sync_requested_at < now() - make_interval(mins => cast(%(cooldown_minutes)s as integer)))
    order by e.account_oid
    limit %(max_triggers)s
)

insert into aspire_sync.customer_sync_status as s (account_oid, full_sync_requested_at, updated_at)
select due.account_oid, now(), now()
from due
on conflict (account_oid) do update
set full_sync_requested_at = excluded.full_sync_requested_at,
    updated_at = excluded.updated_at
returning s.account_oid
