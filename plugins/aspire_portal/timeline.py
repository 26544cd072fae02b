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

from aspire_portal import advice, settings, sqlfiles
from aspire_portal.model import AspireWentBack, Dialect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observed:
    """ASPIRE as one read sees it."""

    database_guid: str
    recovery_fork_guid: str
    dbts: int


@dataclass(frozen=True)
class Check:
    """What a check found: state ok, went_back or rebaselining, and why. `overdue`: a re-baseline began longer ago
    than any daily refresh may run (settings.REBASELINE_PATIENCE), so it failed or was killed."""

    state: str
    detail: str | None = None
    overdue: bool = False
    detected_at: datetime | None = None

    @property
    def went_back(self) -> bool:
        return self.state != "ok"


class TimelineUnreadable(RuntimeError):
    """ASPIRE's row in sys.database_recovery_status is not visible to the sync's login."""


def observe(source: Any, dialect: Dialect) -> Observed:
    """ASPIRE's identity and @@DBTS (one catalog read), ending the read transaction."""
    with source.cursor() as cursor:
        cursor.execute(sqlfiles.render("extract/select_timeline.sql", dialect=dialect))
        row = cursor.fetchone()
    source.rollback()
    if row is None or None in row:
        raise TimelineUnreadable(
            "ASPIRE's row in sys.database_recovery_status is not visible to the sync's login (or the database is "
            "not online), so the sync cannot tell whether ASPIRE was restored or failed over and refuses to load. "
            "SQL Server shows a database's row there to its owner and to logins with VIEW ANY DATABASE, which "
            "public holds by default: a DBA revoked it. Grant it to the sync's login (GRANT VIEW ANY DATABASE TO "
            "<login>); see docs/deployment.md."
        )
    guid, fork, dbts = row
    return Observed(str(guid).lower(), str(fork).lower(), int(dbts))


def check(source: Any, target: psycopg.Connection, dialect: Dialect) -> Check:
    """Compares ASPIRE now with what the sync read before; records it; the state the sync is in. The first check of a
    deployment records ASPIRE as it is, once its @@DBTS is not below the watermarks.

    The row is locked before ASPIRE is looked at: a check that held it before saw an earlier @@DBTS than this one
    will, so two checks at once can never take each other's newer @@DBTS for ASPIRE going back."""
    with target.transaction():
        row = _locked_row(target)
        guid, fork, highest_dbts, state, detail, _detected_at, checked_at, started_at, highest_watermark = row
        if state == "rebaselining":
            return Check(state, detail, overdue=_overdue(started_at))
        if state != "ok":
            return Check(state, detail)
        now = observe(source, dialect)
        changes = _what_changed(now, guid, fork, highest_dbts, highest_watermark)
        if not changes:
            _record(target, now, "ok", highest_dbts=max(now.dbts, highest_dbts or 0))
            return Check("ok")
        since = (
            f"between {checked_at:%Y-%m-%d %H:%M:%S} UTC (the last check that saw the old timeline) and now"
            if guid
            else "before this deployment first checked it"
        )
        detail = (
            f"ASPIRE went back in time: {'; '.join(changes)}. It was restored or failed over {since}. A row-version "
            "cursor would skip the changes ASPIRE makes until its counter passes the watermarks, so no 15-minute "
            f"load writes until the portal is re-baselined. {advice.REBASELINE}"
        )
        _record(target, now, "went_back", detail=detail, detected_at=datetime.now(UTC), highest_dbts=highest_dbts)
    log.error("%s", detail)
    return Check("went_back", detail)


def state(target: psycopg.Connection) -> Check:
    """The sync's state toward ASPIRE's timeline, as recorded (ok before the first check)."""
    row = target.execute(sqlfiles.read("timeline/select_state.sql")).fetchone()
    if row is None:
        return Check("ok")
    found, detail, detected_at, started_at = row
    return Check(found, detail, overdue=found == "rebaselining" and _overdue(started_at), detected_at=detected_at)


def start_rebaseline(source: Any, target: psycopg.Connection, dialect: Dialect) -> Observed:
    """Marks the re-baseline begun, on the ASPIRE it sees now (which its end compares with ASPIRE again): the
    15-minute loads go on refusing. Also restarts a re-baseline that failed."""
    with target.transaction():
        row = _locked_row(target)
        detail, detected_at = row[4], row[5]
        now = observe(source, dialect)
        _record(
            target,
            now,
            "rebaselining",
            detail=detail or "re-baselining on request",
            detected_at=detected_at or datetime.now(UTC),
            rebaseline_started_at=datetime.now(UTC),
        )
    log.warning(
        "Re-baselining the portal on ASPIRE's timeline (database %s, recovery fork %s, @@DBTS %d): every entity is "
        "reloaded in full",
        now.database_guid,
        now.recovery_fork_guid,
        now.dbts,
    )
    return now


def finish_rebaseline(source: Any, target: psycopg.Connection, dialect: Dialect) -> Observed:
    """Records ASPIRE's timeline as the portal's, once every entity is re-baselined: the 15-minute runs resume. When
    ASPIRE went back again while the loads ran (another restore), some loads read the timeline that was lost: the
    state is went_back again, and the re-baseline must run once more."""
    with target.transaction():
        row = target.execute(sqlfiles.read("timeline/select_timeline.sql")).fetchone()
        if row is None or row[3] != "rebaselining":
            raise AspireWentBack(
                "finish_rebaseline found no re-baseline running (aspire_sync.aspire_timeline.state is "
                f"{row[3] if row else 'unset'!r}): another run ended or restarted it; nothing was recorded"
            )
        guid, fork, started_dbts = row[0], row[1], row[2]
        now = observe(source, dialect)
        changes = _what_changed(now, guid, fork, started_dbts, None)
        if changes:
            detail = (
                f"ASPIRE went back in time again during the re-baseline: {'; '.join(changes)}. Loads of the "
                f"re-baseline may have read the timeline that was lost, so it runs again. {advice.REBASELINE}"
            )
            _record(target, now, "went_back", detail=detail, detected_at=datetime.now(UTC), highest_dbts=started_dbts)
        else:
            _record(target, now, "ok", rebaselined_at=datetime.now(UTC))
    if changes:
        raise AspireWentBack(detail)
    log.info(
        "Re-baselined on ASPIRE database %s, timeline %s, @@DBTS %d",
        now.database_guid,
        now.recovery_fork_guid,
        now.dbts,
    )
    return now


def _locked_row(target: psycopg.Connection) -> tuple:
    """aspire_timeline's one row (created on a deployment's first check), locked until the caller's transaction ends,
    with the highest watermark."""
    target.execute(sqlfiles.read("timeline/insert_first.sql"))
    return target.execute(sqlfiles.read("timeline/select_timeline.sql")).fetchone()


def _overdue(started_at: datetime | None) -> bool:
    return started_at is None or datetime.now(UTC) - started_at > settings.REBASELINE_PATIENCE


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
    rebaseline_started_at: datetime | None = None,
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
            "rebaseline_started_at": rebaseline_started_at,
        },
    )
