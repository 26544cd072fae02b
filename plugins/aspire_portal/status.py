"""`python -m aspire_portal status`: the sync's health from the portal's side, worst first.

Per entity: its watermark, honest "data as of" and lag, and its newest load (counts, or the error); then the enrolled
customers without a completed full sync and the quarantined enrolment values. Reads only the portal database.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from aspire_portal import advice, catalogue, quarantine, settings, sqlfiles, timeline

SEVERITY = {"failing": 0, "never": 1, "stale": 2, "ok": 3}


@dataclass
class EntityStatus:
    entity: str
    cadence: str
    state: str  # failing | stale | never | ok
    high_water_mark: int | None
    data_as_of: datetime | None
    lag_minutes: float | None
    last_load: dict[str, Any] | None  # the newest load over everyone (any kind)
    last_refresh: dict[str, Any] | None  # the newest full load over everyone (the daily refresh)
    advice: str


@dataclass
class Status:
    checked_at: datetime
    entities: list[EntityStatus]
    customers_without_full_sync: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    quarantined_source_rows: list[dict[str, Any]] = field(default_factory=list)
    timeline: dict[str, Any] = field(default_factory=lambda: {"state": "ok", "detail": None, "overdue": False})

    @property
    def worst(self) -> str:
        if self.timeline["state"] != "ok":  # every 15-minute load refuses until the re-baseline is done
            return "failing"
        return min((e.state for e in self.entities), key=SEVERITY.__getitem__, default="ok")

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps({**asdict(self), "worst": self.worst}, default=str))

    def text(self) -> str:
        lines = [f"aspire_portal status at {self.checked_at:%Y-%m-%d %H:%M:%S} UTC: {self.worst}"]
        if self.timeline["state"] == "rebaselining" and self.timeline.get("overdue"):
            lines.append(
                f"RE-BASELINE STALLED: begun more than {settings.REBASELINE_PATIENCE} ago and not finished; the "
                f"15-minute runs fail until one does. {advice.REBASELINE_AGAIN} Why it began: {self.timeline['detail']}"
            )
        elif self.timeline["state"] == "rebaselining":
            lines.append(f"RE-BASELINING after an ASPIRE restore or failover: {self.timeline['detail']}")
        elif self.timeline["state"] == "went_back":
            lines.append(f"ASPIRE WENT BACK IN TIME: {self.timeline['detail']}")
        for e in sorted(self.entities, key=lambda e: (SEVERITY[e.state], e.entity)):
            lag = f"lag {e.lag_minutes:,.0f} min" if e.lag_minutes is not None else "lag -"
            stamp = f"{e.data_as_of:%Y-%m-%d %H:%M} UTC" if e.data_as_of else "unknown"
            load = e.last_load
            last = (
                f"last load {load['status']} ({load['load_kind']}, {load['started_at']:%m-%d %H:%M}): read "
                f"{load['rows_read']}, +{load['rows_inserted']} ~{load['rows_updated']} -{load['rows_deleted']}"
                if load
                else "never loaded"
            )
            mark = f"watermark {e.high_water_mark or '-'}" if e.cadence == "15min" else "daily refresh"
            refresh = (
                f"; daily refresh {e.last_refresh['status']} {e.last_refresh['started_at']:%m-%d %H:%M}"
                if e.last_refresh
                else "; no daily refresh yet"
            )
            lines.append(
                f"{e.state.upper():<8} {e.entity:<18} {e.cadence:<6} {mark}  data as of {stamp} ({lag})  "
                f"{last}{refresh}"
            )
            if e.advice:
                lines.append(f"         {e.advice}")
        lines.append(f"customers enrolled without a completed full sync: {len(self.customers_without_full_sync)}")
        for c in self.customers_without_full_sync[:20]:
            requested = f", requested {c['full_sync_requested_at']:%m-%d %H:%M}" if c["full_sync_requested_at"] else ""
            lines.append(
                f"         {c['account_oid']} (linked {c['linked_at']:%Y-%m-%d %H:%M}{requested}): "
                f"airflow dags trigger aspire_portal_customer_full_sync --conf "
                f"'{{\"customer_id\": {c['account_oid']}}}'"
            )
            if c.get("last_error"):
                lines.append(f"           its last full sync failed: {c['last_error'][:300]}")
        lines.append(f"quarantined enrolment values: {len(self.quarantined)}")
        lines += [
            f"         {q['account_oid']!r}: {q['reason']} ({q['portal_users']} portal user(s), since "
            f"{q['first_seen_at']:%Y-%m-%d %H:%M}); fix the row in portal.portal_user_account"
            for q in self.quarantined
        ]
        lines.append(
            f"quarantined source rows (ASPIRE rows the portal cannot take): {len(self.quarantined_source_rows)}"
        )
        lines += [f"         {quarantine.describe(q)}" for q in self.quarantined_source_rows[:50]]
        if self.quarantined_source_rows:
            lines.append(f"         {advice.QUARANTINED_SOURCE_ROW}")
        return "\n".join(lines)


def status(
    target: psycopg.Connection, now: datetime | None = None, stale_after: timedelta = settings.STALE_AFTER
) -> Status:
    """The sync's state as the portal database records it."""
    now = now or datetime.now(UTC)
    names = [e.name for e in catalogue.ENTITIES]
    with target.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(sqlfiles.read("status/select_entity_status.sql"), {"entities": names}).fetchall()
        without = cursor.execute(sqlfiles.render("status/select_customers_without_full_sync.sql")).fetchall()
        quarantined = cursor.execute(sqlfiles.read("status/select_quarantine.sql")).fetchall()
    return Status(
        checked_at=now,
        entities=[_entity_status(row, now, stale_after) for row in rows],
        customers_without_full_sync=without,
        quarantined=quarantined,
        quarantined_source_rows=quarantine.listing(target),
        timeline=_timeline(target),
    )


def _timeline(target: psycopg.Connection) -> dict[str, Any]:
    try:
        found = timeline.state(target)
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):  # not migrated yet: never checked
        target.rollback()
        return {"state": "ok", "detail": None}
    return {"state": found.state, "detail": found.detail, "overdue": found.overdue}


def _entity_status(row: dict[str, Any], now: datetime, stale_after: timedelta) -> EntityStatus:
    entity = catalogue.entity(row["entity"])
    load = (
        None
        if row["last_status"] is None
        else {
            "status": row["last_status"],
            "load_kind": row["last_kind"],
            "dag_id": row["last_dag_id"],
            "task_id": row["last_task_id"],
            "started_at": row["last_started_at"],
            "rows_read": row["rows_read"],
            "rows_inserted": row["rows_inserted"],
            "rows_updated": row["rows_updated"],
            "rows_deleted": row["rows_deleted"],
            "error": row["last_error"],
        }
    )
    refresh = (
        None
        if row["refresh_status"] is None
        else {
            "status": row["refresh_status"],
            "started_at": row["refresh_started_at"],
            "task_id": row["refresh_task_id"],
            "error": row["refresh_error"],
        }
    )
    # a 15-minute entity is as fresh as its watermark; a daily one as its last successful refresh
    fifteen = entity.cadence == "15min"
    as_of = row["data_as_of"] if fifteen else row["refreshed_data_as_of"]
    limit = stale_after if fifteen else settings.DAILY_STALE_AFTER
    lag = (now - as_of).total_seconds() / 60 if as_of else None
    failed = next((x for x in (load, refresh) if x and x["status"] == "failed"), None)
    if failed:
        state = "failing"
        hint = (
            f"{failed.get('dag_id') or 'aspire_portal_daily_refresh'}.{failed['task_id']} failed "
            f"{failed['started_at']:%m-%d %H:%M}: {(failed['error'] or '')[:300]} -- see the task log and the "
            "runbook; python -m aspire_portal explain shows what it holds back"
        )
    elif not fifteen and as_of is None and (refresh is None or refresh["status"] == "running"):
        state = "never"
        hint = (
            f"the first daily refresh is running (since {refresh['started_at']:%m-%d %H:%M})"
            if refresh
            else advice.NOT_REFRESHED_YET
        )
    elif load is None:
        state, hint = "never", "never loaded: is the DAG unpaused? (airflow dags list)"
    elif fifteen and row["high_water_mark"] is None:
        state = "stale"
        hint = (
            "no 15-minute load yet (no watermark): is aspire_portal_incremental unpaused and running? "
            "(airflow dags list-runs aspire_portal_incremental)"
        )
    elif lag is None or lag > limit.total_seconds() / 60:
        state = "stale"
        what = "unknown" if lag is None else f"older than {_span(limit)}"
        hint = (
            f"data as of is {what}: is aspire_portal_incremental running (airflow dags list-runs "
            "aspire_portal_incremental)? A transaction held open on ASPIRE holds it back (the load's task log "
            "names the row version)"
            if fifteen
            else f"last refresh data as of is {what}: is aspire_portal_daily_refresh unpaused and succeeding? "
            "(airflow dags list-runs aspire_portal_daily_refresh)"
        )
    else:
        state, hint = "ok", ""
    return EntityStatus(
        entity=entity.name,
        cadence=entity.cadence,
        state=state,
        high_water_mark=row["high_water_mark"],
        data_as_of=as_of,
        lag_minutes=lag,
        last_load=load,
        last_refresh=refresh,
        advice=hint,
    )


def _span(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.0f} h"
