"""ASPIRE's timeline: the watermarks are row versions of one database on one timeline, so every run checks that the
ASPIRE it reads is still that one (docs/adr/0007-aspire-timeline.md).

A restore from a backup, a failover to a replica that lagged, or a refresh of a test system sets ASPIRE's counter
back below the portal's watermarks: a row-version cursor would then read nothing, silently, until the counter passed
them again, and skip every change in between. The check compares ASPIRE's identity (database_guid and
recovery_fork_guid of sys.database_recovery_status) and its @@DBTS with what aspire_sync.aspire_timeline keeps and
with the highest watermark. When ASPIRE went back, the state becomes went_back: no 15-minute load writes, the run
fails with what changed, and a re-baseline (every entity reloaded in full, ASPIRE winning whatever its row
versions) puts the portal on ASPIRE's new timeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from aspire_portal import advice, sqlfiles
from aspire_portal.model import Dialect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observed:
    """ASPIRE as one read sees it."""

    database_guid: str
    recovery_fork_guid: str
    dbts: int


@dataclass(frozen=True)
class Check:
    """What a check found: state ok, went_back or rebaselining, and why."""

    state: str
    detail: str | None = None

    @property
    def went_back(self) -> bool:
        return self.state != "ok"


def observe(source: Any, dialect: Dialect) -> Observed:
    """ASPIRE's identity and @@DBTS (one catalog read), ending the read transaction."""
    with source.cursor() as cursor:
        cursor.execute(sqlfiles.render("extract/select_timeline.sql", dialect=dialect))
        guid, fork, dbts = cursor.fetchone()
    source.rollback()
    return Observed(str(guid).lower(), str(fork).lower(), int(dbts))


def check(source: Any, target: psycopg.Connection, dialect: Dialect) -> Check:
    """Compares ASPIRE now with what the sync read before; records it; the state the sync is in. The first check of a
    deployment records ASPIRE as it is."""
    now = observe(source, dialect)
    with target.transaction():
        row = target.execute(sqlfiles.read("timeline/select_timeline.sql")).fetchone()
        if row is None:
            _record(target, now, "ok")
            return Check("ok")
        guid, fork, highest_dbts, state, detail, _detected_at, checked_at, highest_watermark = row
        if state != "ok":
            return Check(state, detail)
        changes = _what_changed(now, guid, fork, highest_dbts, highest_watermark)
        if not changes:
            _record(target, now, "ok", highest_dbts=max(now.dbts, highest_dbts or 0))
            return Check("ok")
        detail = (
            f"ASPIRE went back in time: {'; '.join(changes)}. It was restored or failed over between "
            f"{checked_at:%Y-%m-%d %H:%M:%S} UTC (the last check that saw the old timeline) and now. A row-version "
            "cursor would skip the changes ASPIRE makes until its counter passes the watermarks, so no 15-minute "
            f"load writes until the portal is re-baselined. {advice.REBASELINE}"
        )
        _record(target, now, "went_back", detail=detail, detected_at=datetime.now(UTC), highest_dbts=highest_dbts)
    log.error("%s", detail)
    return Check("went_back", detail)


def state(target: psycopg.Connection) -> Check:
    """The sync's state toward ASPIRE's timeline, as recorded (ok before the first check)."""
    row = target.execute(sqlfiles.read("timeline/select_state.sql")).fetchone()
    return Check("ok") if row is None else Check(row[0], row[1])


def start_rebaseline(target: psycopg.Connection) -> None:
    """Marks the re-baseline begun: the 15-minute loads go on refusing, and no second one is started."""
    with target.transaction():
        row = target.execute(sqlfiles.read("timeline/select_timeline.sql")).fetchone()
        guid, fork, dbts, _state, detail = row[:5] if row else (None, None, None, None, None)
        target.execute(
            sqlfiles.read("timeline/upsert_timeline.sql"),
            {
                "database_guid": guid,
                "recovery_fork_guid": fork,
                "dbts": dbts,
                "state": "rebaselining",
                "detail": detail or "re-baselining on request",
                "detected_at": row[5] if row else datetime.now(UTC),
                "rebaselined_at": None,
            },
        )
    log.warning("Re-baselining the portal on ASPIRE's timeline: every entity is reloaded in full")


def finish_rebaseline(source: Any, target: psycopg.Connection, dialect: Dialect) -> Observed:
    """Records ASPIRE's timeline as the portal's, once every entity is re-baselined: the 15-minute runs resume."""
    now = observe(source, dialect)
    with target.transaction():
        _record(target, now, "ok", rebaselined_at=datetime.now(UTC))
    log.info(
        "Re-baselined on ASPIRE database %s, timeline %s, @@DBTS %d",
        now.database_guid,
        now.recovery_fork_guid,
        now.dbts,
    )
    return now


def _what_changed(
    now: Observed, guid: str | None, fork: str | None, highest_dbts: int | None, highest_watermark: int | None
) -> list[str]:
    changes = []
    if guid and guid != now.database_guid:
        changes.append(f"it is another database (database_guid {guid} before, {now.database_guid} now)")
    if fork and fork != now.recovery_fork_guid:
        changes.append(f"its timeline changed (recovery_fork_guid {fork} before, {now.recovery_fork_guid} now)")
    if highest_dbts is not None and now.dbts < highest_dbts:
        changes.append(f"its newest row version (@@DBTS) is {now.dbts}, below the {highest_dbts} seen before")
    if highest_watermark is not None and now.dbts + 1 < highest_watermark:
        changes.append(
            f"its row versions (@@DBTS {now.dbts}) are below the portal's watermarks (up to {highest_watermark})"
        )
    return changes


def _record(
    target: psycopg.Connection,
    now: Observed,
    state: str,
    *,
    detail: str | None = None,
    detected_at: datetime | None = None,
    rebaselined_at: datetime | None = None,
    highest_dbts: int | None = None,
) -> None:
    target.execute(
        sqlfiles.read("timeline/upsert_timeline.sql"),
        {
            "database_guid": now.database_guid,
            "recovery_fork_guid": now.recovery_fork_guid,
            "dbts": now.dbts if highest_dbts is None else highest_dbts,
            "state": state,
            "detail": detail,
            "detected_at": detected_at,
            "rebaselined_at": rebaselined_at,
        },
    )
