-- Records one check of an alert: what it found and, when it delivered a notification, what it told.
update aspire_sync.alert_state as a
set firing = %(firing)s,
    firing_since = case when not %(firing)s then null else coalesce(a.firing_since, %(now)s) end,
    detail = %(detail)s,
    notified_firing = case when %(notified)s then %(firing)s else a.notified_firing end,
    notified_at = case when %(notified)s then %(now)s else a.notified_at end,
    notifications = a.notifications + case when %(notified)s then 1 else 0 end,
    last_checked_at = %(now)s,
    last_run_id = %(run_id)s
where a.alert = %(alert)s
