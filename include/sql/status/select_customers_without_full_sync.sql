-- Enrolled customers with no full sync completed since their latest portal link, oldest link first (for `status`),
-- each with the error of its newest failed full-sync load since then, if one failed (a refused mass removal, say).
{% import "macros/sync.sql" as sync %}
select w.account_oid, w.linked_at, w.full_sync_completed_at, w.full_sync_requested_at, f.error as last_error
from ({{ sync.customers_without_full_sync() }}) as w
left join lateral (
    select l.error
    from aspire_sync.run_log as l
    where l.customer_id = w.account_oid
      and l.status = 'failed'
      and l.started_at >= w.linked_at
    order by l.started_at desc
    limit 1
) as f on true
order by w.linked_at, w.account_oid
