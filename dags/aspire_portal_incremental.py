"""
### ASPIRE → portal: the 15-minute incremental sync

Every 15 minutes, and whenever ASPIRE commits a change (an asset watcher in the triggerer polls ASPIRE's change
clock every few seconds; `ASPIRE_PORTAL_CHANGE_WATCHER=off` leaves the */15 schedule alone), applies to the portal
every change ASPIRE committed to the fast-changing entities —
accounts, contacts, contracts, contract roles, invoices, invoice details and cash receipts — for the enrolled
customers. Each entity reads the ASPIRE row versions in `[its watermark, MIN_ACTIVE_ROWVERSION())` and moves
its watermark in the same portal transaction as the rows, so a failed or killed run loses nothing and a
late-committing ASPIRE transaction is never skipped. One run catches up however long the scheduler was down.

**Scope changes land in this run, both ways.** `resolve_scope` reads the customer scope once (enrolled accounts
from the portal, in-scope contracts from ASPIRE) and persists it (`aspire_sync.scope_*`); every load uses it.
Each entity remembers, in the transaction of its load, which accounts and contracts it holds rows of
(`aspire_sync.entity_account_scope`, `entity_contract_scope`). A contract or account that came (back) into scope
brings its existing rows; one that left (transferred, role removed, un-booked, un-enrolled) loses its rows from
every entity, the daily ones included (`apply_scope_daily_entities`: their entries and exits only, one after
another); rows ASPIRE moved
to another account or contract in the window leave too.

Enrolled customers that never completed a full sync (a lost portal trigger) get
`aspire_portal_customer_full_sync` triggered here, a bounded number per run.

**Manual runs** may narrow themselves: `entities` (only those load) and `customer_ids` (those customers are
re-loaded in full, stale rows deleted, watermarks untouched).

**Backfill runs** (`airflow backfill create --dag-id aspire_portal_incremental --from-date … --to-date …
--reprocess-behavior completed`)
re-apply the rows whose ASPIRE `LastModifiedAt` (America/Chicago local time, DST-correct) falls in each run's
15-minute data interval, with the same newest-wins merge, and never move the watermarks.
"""

from datetime import timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag
from airflow.timetables.interval import CronDataIntervalTimetable

from aspire_portal import catalogue, settings
from aspire_portal.dag_defaults import default_args, on_failure
from aspire_portal.operators import AspireToPortalOperator, ScopeChangesOperator, allow_mass_removal_param
from aspire_portal.runs import SCOPE_CHANGES_TASK
from aspire_portal.tasks import (
    find_customers_without_full_sync,
    migrate_portal_schema,
    rebaseline_due,
    resolve_scope,
    summarize_run,
)
from aspire_portal.validation import ACCOUNT_OID_SCHEMA
from aspire_portal.watcher import incremental_schedule

FIFTEEN_MINUTE_ENTITIES = [e.name for e in catalogue.entities("15min")]


@dag(
    schedule=incremental_schedule(CronDataIntervalTimetable(settings.INCREMENTAL_CRON, timezone="UTC")),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=60),
    doc_md=__doc__,
    tags=["aspire", "portal", "incremental"],
    default_args=default_args(
        retries=3, retry_delay=timedelta(seconds=30), max_retry_delay=timedelta(minutes=5), backoff=True
    ),
    on_failure_callback=on_failure(),
    params={
        "entities": Param(
            [],
            type="array",
            items={"type": "string", "enum": FIFTEEN_MINUTE_ENTITIES},
            uniqueItems=True,
            title="Entities",
            description="Only these entities load in this run (empty: all of the 15-minute set). "
            "Entities left out keep their watermarks.",
        ),
        "customer_ids": Param(
            [],
            type="array",
            items=dict(ACCOUNT_OID_SCHEMA),
            uniqueItems=True,
            maxItems=500,
            title="Customers (ASPIRE AccountOid)",
            description="Re-load only these customers, one ASPIRE AccountOid a line, in digits only (1 to "
            "9223372036854775807; a line that is not one is refused, quoted, and no run starts), in full: their rows "
            "are upserted and their stale rows deleted; watermarks do not move (empty: the normal incremental run "
            "for everyone).",
        ),
        "allow_mass_removal": allow_mass_removal_param(),
    },
)
def aspire_portal_incremental():
    migrated = migrate_portal_schema()
    scoped = resolve_scope()
    # A run the change watcher started is there for these: they take the free slots (and the aspire_source pool's)
    # before the daily entities' scope changes and the bookkeeping; the money a customer watches for goes first.
    money = {"cash_receipt", "invoice", "invoice_detail"}
    loads = [
        AspireToPortalOperator(
            task_id=entity.task_id,
            entity=entity.name,
            load_kind="run",
            priority_weight=12 if entity.name in money else 10,
        )
        for entity in catalogue.entities("15min")
    ] + [
        ScopeChangesOperator(
            task_id=SCOPE_CHANGES_TASK, entities=[entity.name for entity in catalogue.entities("daily")]
        )
    ]
    migrated >> scoped >> loads

    # ASPIRE went back in time (a restore, a failover): resolve_scope fails the run, and this starts the re-baseline.
    (
        scoped
        >> rebaseline_due()
        >> TriggerDagRunOperator(
            task_id="start_rebaseline",
            trigger_dag_id=settings.DAILY_DAG_ID,
            conf={"rebaseline": True},
            trigger_run_id="{{ ti.xcom_pull(task_ids='rebaseline_due') }}",
            skip_when_already_exists=True,
            logical_date=None,
            wait_for_completion=False,
            retries=0,
        )
    )

    # The search reads aspire_sync.customer_sync_status, which the migrations create, and leaves out the enrolment
    # values the scope resolution quarantined: it runs after both.
    missing = find_customers_without_full_sync()
    scoped >> missing
    TriggerDagRunOperator.partial(
        task_id="trigger_missing_full_syncs",
        trigger_dag_id=settings.FULL_SYNC_DAG_ID,
        logical_date=None,
        wait_for_completion=False,
        retries=0,
    ).expand(conf=missing)
    loads >> summarize_run()


aspire_portal_incremental()
