"""
### ASPIRE → portal: is the portal stale? (every 5 minutes)

Reads each 15-minute entity's `data_as_of` in `aspire_sync.watermark` (every ASPIRE transaction committed before it
is in the portal) and mails the person on call when the oldest is older than the threshold (Variable
`aspire_portal_staleness_threshold_minutes`, default 45). A `data_as_of` that is unknown (null), or an entity the
incremental never loaded, counts as stale once the portal schema is older than the threshold.

**One mail, not one every 5 minutes:** a mail when the portal goes stale, a reminder at most every
`aspire_portal_stale_realert_minutes` (default 60) while it stays stale, and one "fresh again" mail; what was told
is kept in `aspire_sync.alert_state`. Mail goes through the connection `smtp_default` to the Variable
`aspire_portal_alert_to`; without them, the task logs the alert as a warning.

**Why a DAG of its own** (rather than a task of `aspire_portal_incremental` or a Deadline Alert on its runs): it must
see what the incremental cannot report about itself: the DAG paused, its runs stuck or failing, or its runs green
while a transaction held open on ASPIRE keeps `data_as_of` back. It cannot see a scheduler that is down (then it does
not run either): probe the api-server's `/api/v2/monitor/health` from outside Airflow for that (docs/alerts.md).
"""

from datetime import timedelta

from airflow.sdk import dag
from airflow.timetables.trigger import CronTriggerTimetable

from aspire_portal import settings
from aspire_portal.dag_defaults import default_args, on_failure
from aspire_portal.freshness import check_portal_freshness
from aspire_portal.tasks import migrate_portal_schema


@dag(
    schedule=CronTriggerTimetable(settings.FRESHNESS_CRON, timezone="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=4),
    doc_md=__doc__,
    tags=["aspire", "portal", "alerts"],
    default_args=default_args(retries=1, retry_delay=timedelta(seconds=30)),
    on_failure_callback=on_failure(),
)
def aspire_portal_freshness_check():
    migrate_portal_schema() >> check_portal_freshness()


aspire_portal_freshness_check()
