-- Enrolled accounts with no full sync completed since their latest portal link (see macros/sync.sql) and none
-- requested recently; marks them requested now, so the next run waits for the cool-down before asking again.
{% import "macros/sync.sql" as sync %}
with due as (
    select w.account_oid
    from ({{ sync.customers_without_full_sync() }}) as w
    where w.full_sync_requested_at is null
       or w.full_sync_requested_at < now() - make_interval(mins => cast(%(cooldown_minutes)s as integer))
    order by w.account_oid
    limit %(max_triggers)s
)

insert into aspire_sync.customer_sync_status as s (account_oid, full_sync_requested_at, updated_at)
select due.account_oid, now(), now()
from due
on conflict (account_oid) do update
set full_sync_requested_at = excluded.full_sync_requested_at,
    updated_at = excluded.updated_at
returning s.account_oid
