"""The sync's settings in one place: DAG ids, schedules, thresholds, Airflow Variable names and load defaults.

Plain values, no imports from the package: every layer may read them, and changing one changes it everywhere.
"""

from __future__ import annotations

from datetime import timedelta

# The DAGs.
INCREMENTAL_DAG_ID = "aspire_portal_incremental"
DAILY_DAG_ID = "aspire_portal_daily_refresh"
FULL_SYNC_DAG_ID = "aspire_portal_customer_full_sync"
EXPLAIN_DAG_ID = "aspire_portal_explain"
FRESHNESS_DAG_ID = "aspire_portal_freshness_check"

# Their schedules.
INCREMENTAL_CRON = "*/15 * * * *"  # UTC; a data interval per run, which is what a backfill replays
# The incremental also runs when ASPIRE commits (an asset watcher in the triggerer, docs/adr/0009): these environment
# variables, read where the DAG is parsed and where the triggerer runs, turn it off or set how often it asks.
CHANGE_WATCHER_ENV = "ASPIRE_PORTAL_CHANGE_WATCHER"  # on (default) or off: cron only, ASPIRE never polled
WATCH_POLL_SECONDS_ENV = "ASPIRE_PORTAL_WATCH_POLL_SECONDS"
WATCH_POLL_SECONDS = 5.0
CHANGES_ASSET = "aspire.changes"
FRESHNESS_CRON = "*/5 * * * *"  # UTC
DAILY_TIMEZONE = "America/Chicago"  # ASPIRE's business day
DAILY_AT = (4, 0)  # hour, minute in DAILY_TIMEZONE
DAILY_CRON = f"{DAILY_AT[1]} {DAILY_AT[0]} * * *"

# Freshness: a 15-minute entity whose data is older than this is stale (Variable THRESHOLD_VARIABLE overrides it);
# a daily entity a day old plus the two hours its refresh may take.
STALE_AFTER = timedelta(minutes=45)
DAILY_STALE_AFTER = timedelta(hours=26)
REALERT_AFTER = timedelta(minutes=60)

# A daily refresh (and so a re-baseline) that runs longer than this times out; a re-baseline begun longer ago than
# REBASELINE_PATIENCE has failed or was killed, and the 15-minute runs stop waiting for it and fail (alerting).
DAILY_RUN_TIMEOUT = timedelta(hours=3)
REBASELINE_PATIENCE = DAILY_RUN_TIMEOUT + timedelta(minutes=30)

# Airflow Variables a deployment may set.
RECIPIENTS_VARIABLE = "aspire_portal_alert_to"
THRESHOLD_VARIABLE = "aspire_portal_staleness_threshold_minutes"
REALERT_VARIABLE = "aspire_portal_stale_realert_minutes"
MAX_REMOVAL_FRACTION_VARIABLE = "aspire_portal_max_removal_fraction"
DELETE_DETECTION_VARIABLE = "aspire_portal_delete_detection"  # key_check (default), change_tracking or daily
# A key check slower than this is past what a 15-minute run should spend reading ASPIRE's keys: the log says so and
# names Change Tracking (measured: 2 s at medium, 20 s at large, docs/benchmarks.md).
KEY_CHECK_SLOW_SECONDS = 10.0
MASS_REMOVAL_FLOOR_VARIABLE = "aspire_portal_mass_removal_floor"
MASS_REMOVAL_FLOOR_SCOPE_VARIABLE = "aspire_portal_mass_removal_floor_scope"

# Connections.
SOURCE_CONN_ID = "aspire"
TARGET_CONN_ID = "portal"
SMTP_CONN_ID = "smtp_default"

# Loads.
BATCH_SIZE = 20_000  # rows per fetch from ASPIRE and per COPY batch: memory stays flat, round trips few
COORDINATION_LOCK_TIMEOUT = "10min"  # a load's wait for its turn among the loads of its entity
OTHER_LOCK_TIMEOUT = "2min"  # any other lock wait of a load
