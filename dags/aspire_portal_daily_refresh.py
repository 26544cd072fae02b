"""
### ASPIRE → portal: the 04:00 daily full refresh

Every day at 04:00 America/Chicago (one run per local day, the DST change days included), replaces the
slow-changing data with ASPIRE's current state for every enrolled customer:

| task | what the portal shows |
|---|---|
| `refresh_amortization_line` | amortization schedules |
| `refresh_line_of_credit` | lines of credit (approved, used, available) |
| `refresh_equipment` | asset list, serial numbers |
| `refresh_contract_scenario` | contract scenario/definition (operating lease, capital lease, loan) |
| `refresh_contract_values` | principal-and-interest figures |

Each is one portal transaction that upserts every in-scope row (newest wins, unchanged rows not written) and
deletes the rows gone from ASPIRE or out of scope: readers see the old state or the new one, never an empty
or partial table, and are never blocked (no TRUNCATE, DROP or rename).

It also **reconciles the 15-minute entities** (`reconcile_*`): the same full load, so rows deleted in ASPIRE or
out of scope (a contract unbooked, a role removed, an account no longer enrolled) leave the portal, and
anything the 15-minute runs could have missed is put right. After this run, an account without portal users
has no rows left in any `aspire` table.

**Backfills** of this DAG are safe but mean little: every run loads ASPIRE's current state, whatever its date.
"""

from datetime import timedelta

from airflow.sdk import Param, dag
from airflow.timetables.trigger import CronTriggerTimetable

from aspire_portal import catalogue, settings
from aspire_portal.dag_defaults import default_args, on_failure
from aspire_portal.operators import AspireToPortalOperator, allow_mass_removal_param
from aspire_portal.tasks import check_aspire_timeline, finish_rebaseline, migrate_portal_schema, summarize_run


@dag(
    schedule=CronTriggerTimetable(settings.DAILY_CRON, timezone=settings.DAILY_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=settings.DAILY_RUN_TIMEOUT,
    doc_md=__doc__,
    tags=["aspire", "portal", "daily"],
    default_args=default_args(
        retries=3, retry_delay=timedelta(minutes=2), max_retry_delay=timedelta(minutes=20), backoff=True
    ),
    on_failure_callback=on_failure(),
    params={
        "allow_mass_removal": allow_mass_removal_param(),
        "rebaseline": Param(
            False,
            type="boolean",
            title="Re-baseline after an ASPIRE restore",
            description="Leave off. On: every entity is reloaded in full with ASPIRE's rows winning whatever their "
            "row versions, rows ASPIRE lacks removed, and the 15-minute watermarks set to ASPIRE's read bound; then "
            "the 15-minute runs resume. The sync starts this by itself when ASPIRE went back in time (a restore, a "
            "failover to a replica that lagged); turn it on to start it by hand.",
        ),
    },
)
def aspire_portal_daily_refresh():
    migrated = migrate_portal_schema()
    timeline = check_aspire_timeline()
    refreshes = [
        AspireToPortalOperator(task_id=f"refresh_{entity.name}", entity=entity.name, load_kind="full")
        for entity in catalogue.entities("daily")
    ]
    reconciliations = [
        AspireToPortalOperator(task_id=f"reconcile_{entity.name}", entity=entity.name, load_kind="full")
        for entity in catalogue.entities("15min")
    ]
    loads = refreshes + reconciliations
    migrated >> timeline >> loads
    loads >> finish_rebaseline()
    loads >> summarize_run()


aspire_portal_daily_refresh()
