-- The enrolment values the sync skips, and why (for `status`).
select q.account_oid, q.reason, q.portal_users, q.first_seen_at, q.last_seen_at
from aspire_sync.enrolment_quarantine as q
order by q.first_seen_at, q.account_oid
