"""Failure alerts: a task that failed for good, a run that failed without a failed task, source rows quarantined.

:func:`failure_notifier` is every DAG's `on_failure_callback`, in `default_args` (each task: Airflow calls it once a
task has failed for good, not for a try it retries) and on the DAG itself (a run that failed; runs failed by a task
were already told by that task's mail, so only the others are mailed, such as a run that timed out, whose unfinished
tasks Airflow marks skipped).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow.sdk import BaseNotifier

from aspire_portal import advice
from aspire_portal.mail import SUBJECT_PREFIX, Alert, deliver, text
from aspire_portal.settings import DAILY_DAG_ID, FRESHNESS_DAG_ID, FULL_SYNC_DAG_ID, INCREMENTAL_DAG_ID

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    """What failed, as the mail tells it. `reason` is set for a run that failed without a failed task."""

    dag_id: str
    run_id: str
    task_id: str | None = None
    entity: str | None = None
    customer_id: Any = None
    error: str | None = None
    log_url: str | None = None
    logical_date: datetime | None = None
    try_number: int | None = None
    max_tries: int | None = None
    reason: str | None = None


class FailureNotifier(BaseNotifier):
    """Mails a failure (see the module docstring); a run failed by one of its tasks is left to that task's mail."""

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing to render (the mail is built from the context, never templated). Skipping it also spares the
        Jinja environment BaseNotifier builds from context["dag"], which dag.test() sets to the scheduler's
        SerializedDAG for a DAG callback: it has no template environment and the callback would fail."""

    def notify(self, context: Any) -> None:
        failure = failure_from_context(context)
        if failure is None:
            log.info("Run failed by a failed task: that task's failure alert told it")
            return
        deliver(failure_alert(failure), context)


def failure_notifier() -> FailureNotifier:
    """The `on_failure_callback` of every DAG and task (default_args) of this package."""
    return FailureNotifier()


def failure_from_context(context: Mapping[str, Any]) -> Failure | None:
    """The failure an Airflow callback context describes: a task's (task callbacks), or a run's that failed for
    another reason than a task (DAG callbacks carry `reason`); None for a run failed by a task."""
    reason = context.get("reason")
    if reason == "task_failure":
        return None
    dag = context.get("dag")
    ti = context.get("ti")
    dag_id = dag.dag_id if dag is not None else getattr(ti, "dag_id", "?")
    run_id = context.get("run_id") or getattr(ti, "run_id", "?")
    logical_date = context.get("logical_date")
    if reason is not None:
        return Failure(
            dag_id=dag_id,
            run_id=run_id,
            logical_date=logical_date,
            reason=str(reason),
            task_id=getattr(ti, "task_id", None),
        )
    task = context.get("task")
    params = context.get("params") or {}
    error = context.get("exception")
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {error}"
    return Failure(
        dag_id=dag_id,
        run_id=run_id,
        task_id=getattr(ti, "task_id", None),
        entity=getattr(task, "entity", None),
        customer_id=params.get("customer_id") if dag_id == FULL_SYNC_DAG_ID else None,
        error=str(error) if error else None,
        log_url=text.safe(lambda: ti.log_url),
        logical_date=logical_date,
        try_number=getattr(ti, "try_number", None),
        max_tries=getattr(ti, "max_tries", None),
    )


def failure_alert(failure: Failure) -> Alert:
    """The mail for a failure: subject naming the DAG, the task, its entity and customer; body with the error, the
    log and the steps, commands included."""
    if failure.reason is not None:
        return _run_failure_alert(failure)
    what = f"{failure.task_id} failed"
    if failure.entity:
        what += f" (entity {failure.entity})"
    if failure.customer_id not in (None, ""):
        what += f" for customer {failure.customer_id}"
    subject = f"{SUBJECT_PREFIX} {failure.dag_id}: {what}"
    lines = [
        f"Task {failure.task_id} of DAG {failure.dag_id} failed for good{_tries(failure)}.",
        f"Run: {failure.run_id}",
    ]
    if failure.entity:
        lines.append(f"Entity: {failure.entity} (portal table aspire.{failure.entity})")
    if failure.customer_id not in (None, ""):
        lines.append(f"Customer: {failure.customer_id}")
    lines += [
        "",
        "Error:",
        text.indent(text.clip(failure.error or "(no error was passed to the callback: see the log)")),
        "",
        f"Log: {failure.log_url or '(open the task in the Airflow UI)'}",
        "",
    ]
    lines += _failure_meaning(failure)
    lines += [
        "",
        "What to do:",
        "1. Read the error above and the task's log.",
        "2. What the loads recorded (psql on the portal database, as a login holding aspire_portal_reader):",
        text.indent(text.psql(_run_log_query(failure)), 3),
        '3. Fix the cause (docs/operations.md: "You got a task-failed mail", "A load task failed", '
        '"A load waits for a lock"), then:',
        text.indent(_retry(failure), 3),
    ]
    return Alert(subject, "\n".join(lines) + "\n")


def quarantine_alert(dag_id: str, run_id: str, task_id: str, entity: str, rows: Sequence[Any]) -> Alert:
    """The mail for source rows a load quarantined for the first time (each is mailed once: the quarantine keeps it,
    `status` lists it until it loads)."""
    subject = f"{SUBJECT_PREFIX} {dag_id}: {len(rows)} {entity} row(s) from ASPIRE quarantined ({task_id})"
    lines = [
        f"Task {task_id} of DAG {dag_id} (run {run_id}) loaded {entity}, but ASPIRE handed it {len(rows)} row(s) the "
        "portal cannot take. Those were not written (the portal keeps the version it had, if any); every other row",
        "was, and the load succeeded.",
        "",
    ]
    lines += [f"  aspire.{entity} {row.row_key}: {row.problems}" for row in rows[:50]]
    if len(rows) > 50:
        lines.append(f"  ... and {len(rows) - 50} more")
    lines += [
        "",
        "What it means: ASPIRE holds a value the portal's column does not allow (a NULL where it needs one, a value",
        "beyond its range or length). Every run reads these rows again; each loads with the first run after it is",
        "fixed in ASPIRE, and leaves the quarantine then (or when it leaves the scope).",
        "",
        "What to do:",
        "1. See them all: python -m aspire_portal status (or select * from aspire_sync.source_quarantine).",
        "2. Fix the row in ASPIRE (or, if the portal's column is too narrow, widen it with a migration).",
        '3. Nothing else: the next run loads it (docs/operations.md: "A source row is quarantined").',
    ]
    return Alert(subject, "\n".join(lines) + "\n")


def _tries(failure: Failure) -> str:
    if not failure.try_number:
        return ""
    if failure.max_tries is not None and failure.try_number <= failure.max_tries:
        return f", at try {failure.try_number} (an error a retry cannot fix, such as bad input, is not retried)"
    return f", after {failure.try_number} tries (its retries are used up)"


def _failure_meaning(failure: Failure) -> list[str]:
    if failure.dag_id == FRESHNESS_DAG_ID:
        return [
            "What it means: the staleness check could not run, so until it does nobody is told when the portal "
            "goes stale. Most often the portal database is unreachable through the connection 'portal'."
        ]
    if failure.entity:
        meaning = (
            f"What it means: the load's transaction rolled back: aspire.{failure.entity} and its watermark are "
            "exactly as before, nothing is half-written; the failure is in aspire_sync.run_log."
        )
    else:
        meaning = "What it means: the tasks after it in this run did not run."
    if failure.dag_id == INCREMENTAL_DAG_ID:
        meaning += (
            " Nothing is lost: the next run (every 15 minutes) reads from the watermark again, so once the "
            "cause is fixed it catches up by itself; clear the task to retry now."
        )
    elif failure.dag_id == DAILY_DAG_ID:
        meaning += " The portal keeps the previous refresh of this entity until a refresh succeeds."
    elif failure.dag_id == FULL_SYNC_DAG_ID:
        meaning += (
            " The customer's full sync is not marked done; it is safe to run again (and the next 15-minute "
            "run asks for it again within the hour if nobody does)."
        )
    return [meaning]


def _run_log_query(failure: Failure) -> str:
    """A query for the person to paste (quoted literals); never executed here."""
    if failure.entity:
        return (
            "select started_at, dag_id, load_kind, status, rows_read, error from aspire_sync.run_log "  # noqa: S608
            f"where entity = {text.literal(failure.entity)} order by started_at desc limit 5"
        )
    return (
        "select entity, load_kind, status, rows_read, error from aspire_sync.run_log "  # noqa: S608
        f"where dag_id = {text.literal(failure.dag_id)} and run_id = {text.literal(failure.run_id)}"
    )


def _retry(failure: Failure) -> str:
    if failure.dag_id == FULL_SYNC_DAG_ID and failure.customer_id not in (None, ""):
        conf = json.dumps({"customer_id": failure.customer_id})
        return f"airflow dags trigger {FULL_SYNC_DAG_ID} --conf '{conf}'"
    if failure.logical_date is None:
        return (
            f'in the UI, open the log link above and Clear the task {failure.task_id} with "Downstream" '
            "(this run has no logical date, which `airflow tasks clear` selects runs by)"
        )
    when = failure.logical_date.isoformat()
    return (
        f"airflow tasks clear {failure.dag_id} --task-regex '^{failure.task_id}$' --downstream --only-failed "
        f"--start-date {when} --end-date {when} --yes"
    )


def _run_failure_alert(failure: Failure) -> Alert:
    why = "it ran longer than its dagrun_timeout" if failure.reason == "timed_out" else failure.reason
    subject = f"{SUBJECT_PREFIX} {failure.dag_id}: run failed ({failure.reason})"
    lines = [
        f"Run {failure.run_id} of DAG {failure.dag_id} failed without a failed task: {why}.",
        f"Run: {_run_url(failure)}",
        *([f"Its latest unfinished task: {failure.task_id}"] if failure.task_id else []),
        "",
        "What it means: Airflow stopped the run's unfinished tasks and marked them skipped, so no task-failed mail "
        "went out. A stopped load rolls back: the portal and the watermarks are as before.",
        "",
        "What to do:",
        "1. In the run's Grid view, find the task that ran long and read its log.",
        '2. A load waiting for a lock is the usual cause (docs/operations.md: "A load waits for a lock"). On the '
        "portal database:",
        text.indent(
            text.psql(
                "select pid, usename, state, wait_event_type, now() - query_start as running, query "
                "from pg_stat_activity where state <> 'idle' order by query_start"
            ),
            3,
        ),
        "3. Then: "
        + {
            INCREMENTAL_DAG_ID: "nothing; the next 15-minute run reads from the watermarks again.",
            DAILY_DAG_ID: f"run it again: {advice.TRIGGER_DAILY}",
            FULL_SYNC_DAG_ID: f"run the customer's full sync again: {advice.trigger_full_sync()}",
        }.get(failure.dag_id, f"run it again: airflow dags trigger {failure.dag_id}"),
    ]
    return Alert(subject, "\n".join(lines) + "\n")


def _run_url(failure: Failure) -> str:
    from urllib.parse import quote

    from airflow.sdk.configuration import conf

    base = conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")
    return f"{base}/dags/{failure.dag_id}/runs/{quote(failure.run_id)}"
