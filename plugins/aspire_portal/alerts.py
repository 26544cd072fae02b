"""Alerts that reach a person: a task that failed for good, a run that failed without a failed task, a stale portal.

Every alert is a subject and a plain-text body that says what happened and what to do, with the commands. They are
delivered by :func:`deliver`, through the SMTP provider's notifier (connection `smtp_default`, recipients in the
Variable `aspire_portal_alert_to`); that one function is what a deployment changes to use Slack or another provider
(README, Alerts). Without a mail server or recipients configured, an alert is a warning in the log, never a failure.

Failures: :func:`failure_notifier` is every DAG's `on_failure_callback`, in `default_args` (each task: Airflow calls it
once a task has failed for good, not for a try it retries) and on the DAG itself (a run that failed; runs failed by a
task were already told by that task's mail, so only the others are mailed, such as a run that timed out, whose
unfinished tasks Airflow marks skipped).

Staleness: :func:`check_freshness`, run every five minutes by `aspire_portal_freshness_check` (not by the incremental
DAG, so a paused or stuck incremental is caught), compares the oldest 15-minute entity's `data_as_of` with a
threshold and keeps what it told in `aspire_sync.alert_state`: one mail when the portal goes stale, a reminder at most
every re-alert interval while it stays stale, one when it is fresh again.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg
from airflow.sdk import BaseNotifier, task

from aspire_portal import sqlfiles

log = logging.getLogger(__name__)

SMTP_CONN_ID = "smtp_default"
RECIPIENTS_VARIABLE = "aspire_portal_alert_to"
THRESHOLD_VARIABLE = "aspire_portal_staleness_threshold_minutes"
REALERT_VARIABLE = "aspire_portal_stale_realert_minutes"
DEFAULT_THRESHOLD_MINUTES = 45
DEFAULT_REALERT_MINUTES = 60
STALE_ALERT = "portal_stale"
SUBJECT_PREFIX = "[aspire-portal]"
FULL_SYNC_DAG_ID = "aspire_portal_customer_full_sync"

Notice = Literal["stale", "still_stale", "fresh_again"]


@dataclass(frozen=True)
class Alert:
    subject: str
    body: str

    @property
    def html(self) -> str:
        """The body as the HTML part the SMTP notifier sends (preformatted, so the tables and commands keep their
        columns)."""
        return f'<pre style="font-family: monospace">{html.escape(self.body)}</pre>'


def deliver(alert: Alert, context: Mapping[str, Any] | None = None) -> bool:
    """Sends the alert with the SMTP provider's notifier: server from the connection `smtp_default` (its extra holds
    `from_email`), recipients from the Variable `aspire_portal_alert_to` (addresses separated by commas). Returns
    False, with a warning saying what to set, when either is missing; a server that refuses raises.
    To use another provider, this is the function to change (README, Alerts)."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier
    from airflow.sdk import BaseHook, Variable
    from airflow.sdk.exceptions import AirflowNotFoundException

    recipients = [a for a in re.split(r"[,;\s]+", str(Variable.get(RECIPIENTS_VARIABLE, default="") or "")) if a]
    try:
        connection = BaseHook.get_connection(SMTP_CONN_ID)
    except AirflowNotFoundException:
        connection = None
    missing = []
    if connection is None:
        missing.append(f"the Airflow connection {SMTP_CONN_ID!r} (the mail server)")
    elif not connection.extra_dejson.get("from_email"):
        missing.append(f"from_email in the extra of the connection {SMTP_CONN_ID!r}")
    if not recipients:
        missing.append(f"the Variable {RECIPIENTS_VARIABLE!r} (who gets alerts, addresses separated by commas)")
    if missing:
        log.warning(
            "Alert NOT sent: no mail is configured; set %s (README, Alerts). It said: %s",
            " and ".join(missing),
            alert.subject,
        )
        return False
    # Every field given, so the notifier renders none of them (an error text with "{{" in it stays as it is).
    SmtpNotifier(
        to=recipients,
        from_email=connection.extra_dejson["from_email"],
        subject=alert.subject,
        html_content=alert.html,
        smtp_conn_id=SMTP_CONN_ID,
    ).notify(dict(context or {}))
    log.info("Alert sent to %s: %s", ", ".join(recipients), alert.subject)
    return True


# ---- failures ----------------------------------------------------------------------------------------------------


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
        log_url=_safe(lambda: ti.log_url),
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
        _indent(_clip(failure.error or "(no error was passed to the callback: see the log)")),
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
        _indent(_psql(_run_log_query(failure)), 3),
        '3. Fix the cause (README, Runbook: "You got a task-failed mail", "A load task failed", '
        '"A load waits for a lock"), then:',
        _indent(_retry(failure), 3),
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
        '3. Nothing else: the next run loads it (README, Runbook: "A source row is quarantined").',
    ]
    return Alert(subject, "\n".join(lines) + "\n")


def _tries(failure: Failure) -> str:
    if not failure.try_number:
        return ""
    if failure.max_tries is not None and failure.try_number <= failure.max_tries:
        return f", at try {failure.try_number} (an error a retry cannot fix, such as bad input, is not retried)"
    return f", after {failure.try_number} tries (its retries are used up)"


def _failure_meaning(failure: Failure) -> list[str]:
    if failure.dag_id == "aspire_portal_freshness_check":
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
    if failure.dag_id == "aspire_portal_incremental":
        meaning += (
            " Nothing is lost: the next run (every 15 minutes) reads from the watermark again, so once the "
            "cause is fixed it catches up by itself; clear the task to retry now."
        )
    elif failure.dag_id == "aspire_portal_daily_refresh":
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
            f"where entity = {_literal(failure.entity)} order by started_at desc limit 5"
        )
    return (
        "select entity, load_kind, status, rows_read, error from aspire_sync.run_log "  # noqa: S608
        f"where dag_id = {_literal(failure.dag_id)} and run_id = {_literal(failure.run_id)}"
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
        '2. A load waiting for a lock is the usual cause (README, Runbook: "A load waits for a lock"). On the portal '
        "database:",
        _indent(
            _psql(
                "select pid, usename, state, wait_event_type, now() - query_start as running, query "
                "from pg_stat_activity where state <> 'idle' order by query_start"
            ),
            3,
        ),
        "3. Then: "
        + {
            "aspire_portal_incremental": "nothing; the next 15-minute run reads from the watermarks again.",
            "aspire_portal_daily_refresh": "run it again: airflow dags trigger aspire_portal_daily_refresh",
            FULL_SYNC_DAG_ID: (
                "run the customer's full sync again: airflow dags trigger "
                f"{FULL_SYNC_DAG_ID} --conf '{{\"customer_id\": <id>}}'"
            ),
        }.get(failure.dag_id, f"run it again: airflow dags trigger {failure.dag_id}"),
    ]
    return Alert(subject, "\n".join(lines) + "\n")


def _run_url(failure: Failure) -> str:
    from urllib.parse import quote

    from airflow.sdk.configuration import conf

    base = conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")
    return f"{base}/dags/{failure.dag_id}/runs/{quote(failure.run_id)}"


# ---- staleness ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntityFreshness:
    """One 15-minute entity at a check (include/sql/sync/select_freshness.sql)."""

    entity: str
    high_water_mark: int | None
    data_as_of: datetime | None
    watermark_written_at: datetime | None
    updated_by_run_id: str | None
    behind: timedelta | None
    last_load_started_at: datetime | None
    last_load_status: str | None
    last_load_error: str | None
    stale: bool


@dataclass(frozen=True)
class Check:
    """What one freshness check found and did."""

    checked_at: datetime
    entities: list[EntityFreshness]
    notice: Notice | None
    notified: bool

    @property
    def stale(self) -> list[EntityFreshness]:
        return [e for e in self.entities if e.stale]


def freshness(
    target: psycopg.Connection, entities: Sequence[str], threshold_minutes: int, now: datetime
) -> list[EntityFreshness]:
    """Every 15-minute entity's freshness at `now`, the worst first."""
    rows = target.execute(
        sqlfiles.read("sync/select_freshness.sql"),
        {"entities": list(entities), "threshold_minutes": threshold_minutes, "now": now},
    ).fetchall()
    return [EntityFreshness(*row) for row in rows]


def decide(
    firing: bool, notified_firing: bool, notified_at: datetime | None, now: datetime, realert_minutes: int
) -> Notice | None:
    """What to tell the person on call, given what they were last told: the news once, a reminder at most every
    `realert_minutes` while it lasts, and the end of it."""
    if firing and not notified_firing:
        return "stale"
    if firing and (notified_at is None or now - notified_at >= timedelta(minutes=realert_minutes)):
        return "still_stale"
    if not firing and notified_firing:
        return "fresh_again"
    return None


def check_freshness(
    target: psycopg.Connection,
    *,
    entities: Sequence[str],
    threshold_minutes: int,
    realert_minutes: int,
    run_id: str,
    send: Callable[[Alert], bool],
    now: datetime | None = None,
) -> Check:
    """Checks the portal's freshness and tells the person on call what changed (see :func:`decide`), through `send`
    (:func:`deliver`, which returns False when no mail is configured: then nothing counts as told)."""
    now = now or datetime.now(UTC)
    found = freshness(target, entities, threshold_minutes, now)
    stale = [e for e in found if e.stale]
    with target.transaction():
        _was_firing, firing_since, notified_firing, notified_at = target.execute(
            sqlfiles.read("sync/lock_alert_state.sql"), {"alert": STALE_ALERT, "now": now}
        ).fetchone()
        notice = decide(bool(stale), notified_firing, notified_at, now, realert_minutes)
        notified = False
        if notice is not None:
            notified = send(
                staleness_alert(
                    notice,
                    found,
                    threshold_minutes=threshold_minutes,
                    realert_minutes=realert_minutes,
                    since=firing_since or now,
                    now=now,
                )
            )
        target.execute(
            sqlfiles.read("sync/update_alert_state.sql"),
            {
                "alert": STALE_ALERT,
                "firing": bool(stale),
                "detail": "\n".join(_entity_line(e, now) for e in stale),
                "notified": notified,
                "now": now,
                "run_id": run_id,
            },
        )
    if stale:
        log.warning(
            "Portal STALE (threshold %d min): %s", threshold_minutes, "; ".join(_entity_line(e, now) for e in stale)
        )
    else:
        worst = found[0] if found else None
        log.info(
            "Portal fresh (threshold %d min)%s",
            threshold_minutes,
            f"; the oldest is {_entity_line(worst, now)}" if worst else "",
        )
    if notice is not None:
        log.info("Notice %s: %s", notice, "delivered" if notified else "not delivered (no mail configured)")
    return Check(checked_at=now, entities=found, notice=notice, notified=notified)


def staleness_alert(
    notice: Notice,
    entities: Sequence[EntityFreshness],
    *,
    threshold_minutes: int,
    realert_minutes: int,
    since: datetime,
    now: datetime,
) -> Alert:
    """The mail for a staleness notice: subject naming the stale entities and how far behind; body with every
    entity's freshness, what it points to and what to do."""
    stale = [e for e in entities if e.stale]
    if notice == "fresh_again":
        subject = (
            f"{SUBJECT_PREFIX} portal fresh again: every 15-minute entity within {threshold_minutes} min "
            f"(was stale for {_duration(now - since)})"
        )
        lines = [
            f'The portal is fresh again as of {_time(now)}: every 15-minute entity\'s "data as of" is within '
            f"{threshold_minutes} minutes. It was stale from {_time(since)} ({_duration(now - since)}).",
            "",
        ]
        lines += _table(entities, now)
        lines += ["", "Nothing to do. If you changed something to fix it, note it in the runbook."]
        return Alert(subject, "\n".join(lines) + "\n")

    names = ", ".join(e.entity for e in stale[:3]) + (f" and {len(stale) - 3} more" if len(stale) > 3 else "")
    worst = stale[0]
    behind = f"{_duration(worst.behind)} behind" if worst.behind is not None else "data as of unknown"
    lead = "portal stale" if notice == "stale" else f"portal still stale since {_time(since)}"
    subject = f"{SUBJECT_PREFIX} {lead}: {names} ({behind}; threshold {threshold_minutes} min)"
    lines = [
        f'The customer portal is stale as of {_time(now)}: the "data as of" of {len(stale)} of the '
        f"{len(entities)} 15-minute entities is older than {threshold_minutes} minutes (Variable {THRESHOLD_VARIABLE})"
        + (f"; it has been since {_time(since)}." if notice == "still_stale" else "."),
        "Customers see data older than that: every ASPIRE transaction committed since is not in the portal yet.",
        "",
        *_table(entities, now),
        "",
        "What it points to:",
        *[f"- {', '.join(names)}: {finding}" for finding, names in _diagnoses(stale, now, threshold_minutes).items()],
        "",
        "What to do:",
        "1. Is the incremental DAG unpaused and running, and its last runs green? (the scheduler too:",
        "   curl -s $AIRFLOW_URL/api/v2/monitor/health)",
        "   airflow dags unpause aspire_portal_incremental",
        "   airflow dags list-runs aspire_portal_incremental",
        "2. Its last loads, with their errors (psql on the portal database, as a login holding aspire_portal_reader):",
        _indent(
            _psql(
                "select entity, started_at, status, rows_read, error from aspire_sync.run_log "
                "where load_kind = 'incremental' order by started_at desc limit 14"
            ),
            3,
        ),
        '3. Runs green but "data as of" stuck: a transaction held open on ASPIRE holds the read bound back (by '
        "design: its rows are not committed). Each load's log says \"a transaction open on ASPIRE since row version "
        "N holds it back\". Who holds it (a DBA, on ASPIRE's SQL Server):",
        "   select s.session_id, s.login_name, s.host_name, s.program_name, t.transaction_begin_time",
        "   from sys.dm_tran_session_transactions as st",
        "   join sys.dm_tran_active_transactions as t on t.transaction_id = st.transaction_id",
        "   join sys.dm_exec_sessions as s on s.session_id = st.session_id order by t.transaction_begin_time;",
        "4. The watermarks now:",
        _indent(
            _psql(
                "select entity, high_water_mark, data_as_of, updated_at, updated_by_run_id "
                "from aspire_sync.watermark order by data_as_of"
            ),
            3,
        ),
        "",
        f"While it stays stale you get a reminder at most every {realert_minutes} minutes (Variable "
        f"{REALERT_VARIABLE}), and one mail when it is fresh again. README, Runbook: \"You got a 'portal stale' "
        'mail".',
    ]
    return Alert(subject, "\n".join(lines) + "\n")


def _diagnoses(stale: Sequence[EntityFreshness], now: datetime, threshold_minutes: int) -> dict[str, list[str]]:
    """What each stale entity's state points to, with the entities it applies to."""
    threshold = timedelta(minutes=threshold_minutes)
    found: dict[str, list[str]] = {}
    for e in stale:
        if e.watermark_written_at is None:
            finding = (
                "never loaded by aspire_portal_incremental (no watermark yet): has the DAG run since the portal "
                "was set up, or is it paused? (step 1)"
            )
        elif e.last_load_status == "failed" and (e.last_load_started_at or now) > e.watermark_written_at:
            finding = (
                f"its incremental loads fail; the last one, at {_time(e.last_load_started_at)}: "
                f"{_clip(e.last_load_error or '', 300)} (step 2)"
            )
        elif now - e.watermark_written_at <= threshold:
            finding = (
                'loads succeed (the watermark was written within the threshold) but "data as of" does not '
                "move: a transaction held open on ASPIRE (step 3)"
            )
        else:
            finding = (
                f"no incremental load since {_time(e.watermark_written_at)}: the DAG is paused, or its runs are "
                "stuck or not scheduled (scheduler or workers down) (step 1)"
            )
        found.setdefault(finding, []).append(e.entity)
    return found


def _table(entities: Sequence[EntityFreshness], now: datetime) -> list[str]:
    rows = [("entity", "data as of", "behind", "watermark written", "last incremental load", "")]
    for e in entities:
        rows.append(
            (
                e.entity,
                _time(e.data_as_of) if e.data_as_of else "unknown",
                _duration(e.behind) if e.behind is not None else "-",
                f"{_duration(now - e.watermark_written_at)} ago" if e.watermark_written_at else "never",
                f"{e.last_load_status} {_time(e.last_load_started_at)}" if e.last_load_status else "-",
                "STALE" if e.stale else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _entity_line(e: EntityFreshness, now: datetime) -> str:
    if e.data_as_of is None:
        return f"{e.entity}: data as of unknown" + ("" if e.watermark_written_at else " (never loaded)")
    return f"{e.entity}: data as of {_time(e.data_as_of)} ({_duration(now - e.data_as_of)} behind)"


# ---- settings and the task ---------------------------------------------------------------------------------------


def minutes_variable(name: str, default: int) -> int:
    """A positive whole number of minutes from an Airflow Variable (`default` when it is not set)."""
    from airflow.sdk import Variable

    value = Variable.get(name, default=default)
    try:
        minutes = int(str(value).strip())
    except ValueError:
        minutes = 0
    if minutes < 1:
        raise ValueError(
            f"the Variable {name} must be a whole number of minutes of at least 1, got {value!r}; "
            f"set it with: airflow variables set {name} {default}"
        )
    return minutes


def run_freshness_check(context: Mapping[str, Any]) -> dict[str, Any]:
    """The freshness check as the DAG's task runs it: settings from the Variables, the portal from its connection."""
    from aspire_portal import catalogue
    from aspire_portal.connections import target_connection

    threshold = minutes_variable(THRESHOLD_VARIABLE, DEFAULT_THRESHOLD_MINUTES)
    realert = minutes_variable(REALERT_VARIABLE, DEFAULT_REALERT_MINUTES)
    with target_connection() as target:
        check = check_freshness(
            target,
            entities=[e.name for e in catalogue.entities("15min")],
            threshold_minutes=threshold,
            realert_minutes=realert,
            run_id=context["run_id"],
            send=lambda alert: deliver(alert, context),
        )
    return {"stale": [e.entity for e in check.stale], "notice": check.notice, "notified": check.notified}


@task
def check_portal_freshness(**context: Any) -> dict[str, Any]:
    """Mails when the portal goes stale, reminds while it stays stale, and tells when it is fresh again."""
    return run_freshness_check(context)


# ---- text helpers ------------------------------------------------------------------------------------------------


def _time(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _duration(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} days {hours % 24} h"


def _clip(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + f" … ({len(text) - limit} more characters in the log)"


def _indent(text: str, spaces: int = 2) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _psql(query: str) -> str:
    return f'psql -d <portal database> -c "{query}"'


def _safe(get: Callable[[], Any]) -> Any:
    try:
        return get()
    except Exception:  # noqa: BLE001 - an optional detail of the mail must never cost the mail
        return None
