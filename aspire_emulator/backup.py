"""ASPIRE going back in time, as a SQL Server restore leaves it: a backup of every dbo table and the row-version
counter, and a restore that puts them back, starts a new recovery fork (sys.database_recovery_status) and sets the
counter back to the backup's @@DBTS. Row versions written after a restore reuse values a reader of the lost timeline
may already have read: what the sync's timeline check is for."""

from __future__ import annotations

import logging
import re

import psycopg

from .sqlfiles import statement

log = logging.getLogger(__name__)

_NAME = re.compile(r"[a-z0-9_]{1,40}")


def _checked(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"a backup name is 1 to 40 lower-case letters, digits or underscores, got {name!r}")
    return name


def backup(aspire_dsn: str, name: str) -> int:
    """Backs ASPIRE up as `name` (replacing a backup of that name); the @@DBTS it kept."""
    with psycopg.connect(aspire_dsn) as conn:
        kept = conn.execute(statement("timeline/backup.sql"), {"name": _checked(name)}).fetchone()[0]
    log.info("backed ASPIRE up as %r at @@DBTS %d", name, kept)
    return kept


def restore(aspire_dsn: str, name: str) -> int:
    """Restores ASPIRE from backup `name`: every other session of the database ends (a restore needs it to itself),
    the rows are the backup's, the recovery fork is new and the next row version follows the backup's @@DBTS, which
    is returned."""
    name = _checked(name)
    with psycopg.connect(aspire_dsn, autocommit=True) as conn:
        ended = conn.execute(statement("timeline/terminate_sessions.sql")).fetchone()[0]
        with conn.transaction():
            kept = conn.execute(statement("timeline/restore.sql"), {"name": name}).fetchone()[0]
    log.info(
        "restored ASPIRE from %r (ended %d other session(s)); the row-version counter is back at %d", name, ended, kept
    )
    return kept


def advance(aspire_dsn: str, versions: int) -> int:
    """Time passes on ASPIRE's timeline: its @@DBTS moves on by `versions`, as that many writes would move it (the
    counter is cluster-wide transaction ids, so burning transactions here would move every emulator database on
    the server as well). Every other session ends, as with a restore, so none writes with the old counter. The new
    @@DBTS."""
    if not isinstance(versions, int) or versions < 0:
        raise ValueError(f"the counter only moves on: versions is a whole number, 0 or more, got {versions!r}")
    with psycopg.connect(aspire_dsn, autocommit=True) as conn:
        conn.execute(statement("timeline/terminate_sessions.sql"))
        dbts = conn.execute(statement("timeline/advance_counter.sql"), {"versions": versions}).fetchone()[0]
    log.info("moved ASPIRE's row-version counter on by %d to @@DBTS %d", versions, dbts)
    return dbts


def recovery_status(aspire_dsn: str) -> tuple[str, str, int]:
    """database_guid, recovery_fork_guid and @@DBTS, as a session opened now sees them."""
    with psycopg.connect(aspire_dsn) as conn:
        guid, fork, dbts = conn.execute(statement("timeline/select_recovery_status.sql")).fetchone()
    return guid, fork, dbts
