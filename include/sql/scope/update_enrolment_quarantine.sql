-- The enrolment values skipped now (see scope.enrolled_accounts): kept with when they were first and last seen;
-- a value fixed (or gone) since leaves the quarantine.
with skipped as (
    select s.account_oid, s.reason, s.portal_users
    from unnest(%(values)s::text[], %(reasons)s::text[], %(users)s::int[]) as s (account_oid, reason, portal_users)
),
released as (
    delete from aspire_sync.enrolment_quarantine as q
    where not exists (select 1 from skipped as s where s.account_oid = q.account_oid)
)
insert into aspire_sync.enrolment_quarantine as q (account_oid, reason, portal_users, last_run_id)
select s.account_oid, s.reason, s.portal_users, %(run_id)s
from skipped as s
on conflict (account_oid) do update
set reason = excluded.reason,
    portal_users = excluded.portal_users,
    last_seen_at = now(),
    last_run_id = excluded.last_run_id
