"""The small tasks around the loads: check the trigger's input, migrate the portal schema, close a run.

The logic lives in plain functions taking connections (tested without Airflow); the `@task` wrappers only
open the connections and turn bad input into a failure that is not retried.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from airflow.sdk import task

from aspire_portal import migrations, sqlfiles
from aspire_portal.validation import parse_customer_id

log = logging.getLogger(__name__)


class CustomerNotSyncable(ValueError):
    """The customer_id names no ASPIRE account, or one nobody enrolled in the portal."""


def check_customer(source: Any, target: psycopg.Connection, value: Any) -> int:
    """The validated customer_id, or CustomerNotSyncable saying why it cannot be synced. Writes nothing."""
    customer_id = parse_customer_id(value)
    with source.cursor() as cursor:
        cursor.execute(sqlfiles.read("extract/select_customer.sql"), {"customer_id": customer_id})
        account = cursor.fetchone()
    source.rollback()
    if account is None:
        raise CustomerNotSyncable(
            f"customer_id {customer_id} is not an ASPIRE account (no dbo.Account row with AccountOid "
            f"{customer_id}); check the id"
        )
    enrolled = target.execute(
        sqlfiles.render("scope/select_account_enrolled.sql"), {"customer_id": customer_id}
    ).fetchone()[0]
    if not enrolled:
        raise CustomerNotSyncable(
            f"customer_id {customer_id} ({account[1]}) is not enrolled in the portal (no portal user is linked "
            "to it in portal.portal_user_account); create the portal user first"
        )
    log.info("Customer %s (%s) is enrolled; syncing it in full", customer_id, account[1])
    return customer_id


def record_full_sync(target: psycopg.Connection, customer_id: int, dag_id: str, run_id: str) -> str | None:
    """Marks the customer's full sync done with its "data as of" time and logs what each entity wrote."""
    with target.transaction():
        row = target.execute(
            sqlfiles.read("customers/upsert_customer_full_sync.sql"),
            {"customer_id": customer_id, "dag_id": dag_id, "run_id": run_id},
        ).fetchone()
    if row is None:
        raise RuntimeError(f"no successful entity load of customer {customer_id} is recorded for run {run_id}")
    log_run_summary(target, dag_id, run_id)
    log.info("Full sync of customer %s done; portal data as of %s", customer_id, row[0].isoformat())
    return row[0].isoformat()


def log_run_summary(target: psycopg.Connection, dag_id: str, run_id: str) -> list[tuple]:
    """Logs one line per entity load of the run (rows read / inserted / updated / deleted, seconds)."""
    rows = target.execute(
        sqlfiles.read("customers/select_run_summary.sql"), {"dag_id": dag_id, "run_id": run_id}
    ).fetchall()
    for entity, kind, read, inserted, updated, deleted, seconds in rows:
        log.info(
            "%-18s %-11s read %8d  inserted %8d  updated %8d  deleted %8d  %7.2fs",
            entity,
            kind,
            read,
            inserted,
            updated,
            deleted,
            seconds,
        )
    return rows


# ---- Airflow tasks -------------------------------------------------------------------------------------------


@task
def validate_customer(customer_id: Any) -> int:
    """Fails the run at once, before anything is written, when customer_id cannot be synced (not retried: bad
    input stays bad; a database that is briefly unreachable is retried as usual)."""
    from airflow.sdk.exceptions import AirflowFailException

    from aspire_portal.connections import source_connection, target_connection

    try:
        with source_connection() as (source, _dialect), target_connection() as target:
            return check_customer(source, target, customer_id)
    except ValueError as error:
        raise AirflowFailException(str(error)) from error


@task
def resolve_scope(customer_ids: Any = None, **context: Any) -> dict[str, Any]:
    """Resolves the run's customer scope once and persists it (aspire_sync.scope_*); every load of the run uses
    it. `customer_ids` (or the incremental run's `customer_ids` param): re-read only those customers, on top of the
    newest scope of everyone. Backfill runs resolve everyone's scope."""
    from airflow.sdk.exceptions import AirflowFailException

    from aspire_portal import scope
    from aspire_portal.connections import source_connection, target_connection
    from aspire_portal.model import EnrolmentUnreadable, MassRemoval, NotEnrolled
    from aspire_portal.runlog import record_refusal
    from aspire_portal.runs import fifteen_minute_requests, is_backfill, removal_guard, selected_customers

    try:
        if customer_ids in (None, "", "None"):
            customers = None if is_backfill(context["dag_run"]) else selected_customers(context.get("params") or {})
        else:
            customers = (parse_customer_id(customer_ids),)
        guard = removal_guard(context)
    except ValueError as error:
        raise AirflowFailException(str(error)) from error
    with source_connection() as (source, dialect), target_connection() as target:
        _refuse_on_another_timeline(source, target, dialect, context)
        try:
            resolved = scope.resolve(
                source,
                target,
                dialect,
                customers=customers,
                dag_id=context["dag"].dag_id,
                run_id=context["run_id"],
                guard=guard,
            )
        except NotEnrolled as error:  # retrying cannot help: bad input
            raise AirflowFailException(str(error)) from error
        except (MassRemoval, EnrolmentUnreadable) as refused:  # a person must look; not retried
            if context["dag"].dag_id == "aspire_portal_incremental" and customers is None:
                for request in fifteen_minute_requests(context):  # so status shows each entity failing, and why
                    record_refusal(target, request, refused)
            raise AirflowFailException(str(refused)) from refused
    return {
        "resolution_id": resolved.resolution_id,
        "accounts": len(resolved.accounts),
        "contracts": len(resolved.contracts),
        "read_bound": resolved.read_bound,
    }


@task
def migrate_portal_schema() -> list[str]:
    """Applies pending portal migrations (a no-op when up to date; safe when two runs start at once)."""
    from aspire_portal.connections import target_connection

    with target_connection() as target:
        return migrations.migrate(target)


@task
def mark_full_sync_done(customer_id: Any, **context: Any) -> str | None:
    """Records that the customer's full sync completed, with the time its data is as of."""
    from aspire_portal.connections import target_connection

    with target_connection() as target:
        return record_full_sync(target, parse_customer_id(customer_id), context["dag"].dag_id, context["run_id"])


def claim_customers_without_full_sync(
    target: psycopg.Connection, max_triggers: int, cooldown_minutes: int = 60
) -> list[int]:
    """Enrolled customers with no full sync completed since their latest portal link, at most `max_triggers`,
    marked as requested now."""
    with target.transaction():
        rows = target.execute(
            sqlfiles.render("customers/claim_customers_without_full_sync.sql"),
            {"max_triggers": max_triggers, "cooldown_minutes": cooldown_minutes},
        ).fetchall()
    customers = sorted(row[0] for row in rows)
    if customers:
        log.warning(
            "%d enrolled customer(s) have no full sync since they were linked (lost trigger or failed run); "
            "triggering aspire_portal_customer_full_sync for: %s",
            len(customers),
            customers,
        )
    else:
        log.info("Every enrolled customer has completed a full sync (or one was requested within the hour)")
    return customers


@task
def find_customers_without_full_sync(**context: Any) -> list[dict[str, int]]:
    """The trigger confs of the full syncs this run starts (bounded by a Variable), so lost triggers heal."""
    from aspire_portal.connections import target_connection
    from aspire_portal.runs import is_backfill
    from aspire_portal.variables import variable

    if is_backfill(context["dag_run"]):
        log.info("Backfill run: not looking for customers without a full sync")
        return []
    max_triggers = int(variable("aspire_portal_max_full_sync_triggers_per_run", 25))
    with target_connection() as target:
        return [{"customer_id": c} for c in claim_customers_without_full_sync(target, max_triggers)]


@task(trigger_rule="none_failed")
def summarize_run(**context: Any) -> None:
    """Logs one line per entity load of this run, so the run's last task tells what it did. It runs when no load
    failed (loads skipped by the run's params are fine): as a leaf, it is what marks a run with a failed load
    failed; failures are in aspire_sync.run_log with their error."""
    from aspire_portal.connections import target_connection

    with target_connection() as target:
        log_run_summary(target, context["dag"].dag_id, context["run_id"])


@task
def explain_object(kind: str, oid: Any) -> dict[str, Any]:
    """Logs why one contract, invoice, receipt or customer is or is not in the portal (see aspire_portal.explain);
    returns the same answer as `python -m aspire_portal explain --json`."""
    from airflow.sdk.exceptions import AirflowFailException

    from aspire_portal import explain
    from aspire_portal.connections import source_connection, target_connection

    try:
        kind = str(kind)
        if kind not in explain.KINDS:
            raise ValueError(f"kind must be one of {sorted(explain.KINDS)}, got {kind!r}")
        number = parse_customer_id(oid, f"the {kind} id", column=explain.ID_COLUMNS[kind])
    except ValueError as error:
        raise AirflowFailException(str(error)) from error
    with source_connection() as (source, dialect), target_connection() as target:
        answer = explain.explain(source, target, dialect, kind, number)
    for line in answer.text().splitlines():
        log.info("%s", line)
    return answer.as_dict()


# ---- ASPIRE's timeline -------------------------------------------------------------------------------------------


def _refuse_on_another_timeline(source: Any, target: psycopg.Connection, dialect: str, context: Any) -> None:
    """The run's first look at ASPIRE: when ASPIRE went back in time, no load of this run may write. A 15-minute run
    fails (and alerts, and the next task starts the re-baseline), recording each entity's load refused so `status`
    shows why; while a re-baseline runs, it is skipped."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from aspire_portal import advice, settings, timeline
    from aspire_portal.model import AspireWentBack
    from aspire_portal.runlog import record_refusal
    from aspire_portal.runs import fifteen_minute_requests

    found = timeline.check(source, target, dialect)
    if found.state == "rebaselining" and not found.overdue:
        raise AirflowSkipException("the portal is being re-baselined after ASPIRE went back in time; this run waits")
    if found.state == "rebaselining":
        raise AirflowFailException(
            f"A re-baseline began more than {settings.REBASELINE_PATIENCE} ago and has not finished: it failed or was "
            "killed, and the 15-minute runs do not load until one finishes. " + advice.REBASELINE_AGAIN
        )
    if found.went_back:
        refused = AspireWentBack(found.detail)
        if context["dag"].dag_id == "aspire_portal_incremental":
            for request in fifteen_minute_requests(context):
                record_refusal(target, request, refused)
        raise AirflowFailException(found.detail)


@task.short_circuit(trigger_rule="one_failed", ignore_downstream_trigger_rules=False)
def rebaseline_due() -> str | None:
    """Whether this run found ASPIRE gone back in time and no re-baseline has begun: then the next task starts one,
    under the run id returned here. One per detection: runs that fail while it waits in the queue start no other."""
    from aspire_portal import timeline
    from aspire_portal.connections import target_connection

    with target_connection() as target:
        found = timeline.state(target)
    if found.state != "went_back":
        return None
    return f"rebaseline__{found.detected_at:%Y%m%dT%H%M%S.%f}"


@task
def check_aspire_timeline(**context: Any) -> str:
    """The daily refresh's first look at ASPIRE: with `rebaseline`, the re-baseline begins (its loads reload every
    entity in full, ASPIRE winning whatever its row versions); without, a refresh on another timeline fails."""
    from airflow.sdk.exceptions import AirflowFailException

    from aspire_portal import timeline
    from aspire_portal.connections import source_connection, target_connection

    rebaseline = (context.get("params") or {}).get("rebaseline", False)
    if not isinstance(rebaseline, bool):  # 1 and 0 compare equal to True and False
        raise AirflowFailException(f"rebaseline must be true or false, got {rebaseline!r}")
    with source_connection() as (source, dialect), target_connection() as target:
        if rebaseline:
            began = timeline.start_rebaseline(source, target, dialect)
            return f"rebaselining from recovery fork {began.recovery_fork_guid} at @@DBTS {began.dbts}"
        found = timeline.check(source, target, dialect)
        if found.went_back:
            raise AirflowFailException(found.detail)
    return "ok"


@task
def finish_rebaseline(**context: Any) -> str:
    """After every entity was re-baselined: ASPIRE's timeline becomes the portal's, and the 15-minute runs resume."""
    from aspire_portal import timeline
    from aspire_portal.connections import source_connection, target_connection

    if (context.get("params") or {}).get("rebaseline") is not True:
        return "not a re-baseline"
    with source_connection() as (source, dialect), target_connection() as target:
        now = timeline.finish_rebaseline(source, target, dialect)
    return f"re-baselined on recovery fork {now.recovery_fork_guid} at @@DBTS {now.dbts}"
