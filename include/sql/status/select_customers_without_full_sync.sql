-- Enrolled customers with no full sync completed since their latest portal link, oldest link first (for `status`).
{% import "macros/sync.sql" as sync %}
select w.account_oid, w.linked_at, w.full_sync_completed_at, w.full_sync_requested_at
from ({{ sync.customers_without_full_sync() }}) as w
order by w.linked_at, w.account_oid
