-- One customer's full-sync status, for `explain`.
select s.full_sync_completed_at, s.data_as_of, s.full_sync_requested_at
from aspire_sync.customer_sync_status as s
where s.account_oid = %(id)s
