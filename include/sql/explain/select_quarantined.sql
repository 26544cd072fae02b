-- Whether one enrolment value is quarantined (skipped by the sync), and why.
select q.reason, q.portal_users, q.first_seen_at
from aspire_sync.enrolment_quarantine as q
where q.account_oid = %(value)s
