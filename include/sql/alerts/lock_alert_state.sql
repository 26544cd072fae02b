-- The state of one alert (created when missing), locked until the check that read it commits: what the checks last
-- found and what the person on call was last told.
insert into aspire_sync.alert_state as a (alert, firing, last_checked_at)
values (%(alert)s, false, %(now)s)
on conflict (alert) do update
set alert = excluded.alert
returning a.firing, a.firing_since, a.notified_firing, a.notified_at
