"""Staleness: :func:`check_freshness`, run every five minutes by `aspire_portal_freshness_check` (not by the
incremental DAG, so a paused or stuck incremental is caught), compares each 15-minute entity's `data_as_of` with a
threshold and keeps what it told in `aspire_sync.alert_state`: one mail when the portal goes stale, a reminder at most
every re-alert interval while it stays stale, one when it is fresh again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg
from airflow.sdk import task

from aspire_portal import settings, sqlfiles
from aspire_portal.mail import SUBJECT_PREFIX, Alert, deliver, text
from aspire_portal.settings import REALERT_VARIABLE, THRESHOLD_VARIABLE

log = logging.getLogger(__name__)

STALE_ALERT = "portal_stale"
DEFAULT_THRESHOLD_MINUTES = int(settings.STALE_AFTER.total_seconds() // 60)
DEFAULT_REALERT_MINUTES = int(settings.REALERT_AFTER.total_seconds() // 60)

Notice = Literal["stale", "still_stale", "fresh_again"]


@dataclass(frozen=True)
class EntityFreshness:
    """One 15-minute entity at a check (include/sql/alerts/select_freshness.sql)."""

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
        sqlfiles.read("alerts/select_freshness.sql"),
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
            sqlfiles.read("alerts/lock_alert_state.sql"), {"alert": STALE_ALERT, "now": now}
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
            sqlfiles.read("alerts/update_alert_state.sql"),
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
            f"(was stale for {text.duration(now - since)})"
        )
        lines = [
            f'The portal is fresh again as of {text.time(now)}: every 15-minute entity\'s "data as of" is within '
            f"{threshold_minutes} minutes. It was stale from {text.time(since)} ({text.duration(now - since)}).",
            "",
        ]
        lines += _table(entities, now)
        lines += ["", "Nothing to do. If you changed something to fix it, note it in the runbook."]
        return Alert(subject, "\n".join(lines) + "\n")

    names = ", ".join(e.entity for e in stale[:3]) + (f" and {len(stale) - 3} more" if len(stale) > 3 else "")
    worst = stale[0]
    behind = f"{text.duration(worst.behind)} behind" if worst.behind is not None else "data as of unknown"
    lead = "portal stale" if notice == "stale" else f"portal still stale since {text.time(since)}"
    subject = f"{SUBJECT_PREFIX} {lead}: {names} ({behind}; threshold {threshold_minutes} min)"
    lines = [
        f'The customer portal is stale as of {text.time(now)}: the "data as of" of {len(stale)} of the '
        f"{len(entities)} 15-minute entities is older than {threshold_minutes} minutes (Variable {THRESHOLD_VARIABLE})"
        + (f"; it has been since {text.time(since)}." if notice == "still_stale" else "."),
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
        text.indent(
            text.psql(
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
        text.indent(
            text.psql(
                "select entity, high_water_mark, data_as_of, updated_at, updated_by_run_id "
                "from aspire_sync.watermark order by data_as_of"
            ),
            3,
        ),
        "",
        f"While it stays stale you get a reminder at most every {realert_minutes} minutes (Variable "
        f"{REALERT_VARIABLE}), and one mail when it is fresh again. docs/operations.md: \"You got a 'portal stale' "
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
                f"its incremental loads fail; the last one, at {text.time(e.last_load_started_at)}: "
                f"{text.clip(e.last_load_error or '', 300)} (step 2)"
            )
        elif now - e.watermark_written_at <= threshold:
            finding = (
                'loads succeed (the watermark was written within the threshold) but "data as of" does not '
                "move: a transaction held open on ASPIRE (step 3)"
            )
        else:
            finding = (
                f"no incremental load since {text.time(e.watermark_written_at)}: the DAG is paused, or its runs are "
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
                text.time(e.data_as_of) if e.data_as_of else "unknown",
                text.duration(e.behind) if e.behind is not None else "-",
                f"{text.duration(now - e.watermark_written_at)} ago" if e.watermark_written_at else "never",
                f"{e.last_load_status} {text.time(e.last_load_started_at)}" if e.last_load_status else "-",
                "STALE" if e.stale else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _entity_line(e: EntityFreshness, now: datetime) -> str:
    if e.data_as_of is None:
        return f"{e.entity}: data as of unknown" + ("" if e.watermark_written_at else " (never loaded)")
    return f"{e.entity}: data as of {text.time(e.data_as_of)} ({text.duration(now - e.data_as_of)} behind)"


def minutes_variable(name: str, default: int) -> int:
    """A positive whole number of minutes from an Airflow Variable (`default` when it is not set)."""
    from aspire_portal.variables import variable

    value = variable(name, default)
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
