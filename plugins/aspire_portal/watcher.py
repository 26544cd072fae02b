"""ASPIRE's change clock, watched by the triggerer: the 15-minute incremental runs when ASPIRE committed something, not
only at the next */15 tick (docs/adr/0009-runs-when-aspire-changes.md).

`AspireChangeTrigger` is an Airflow 3 event trigger (an `AssetWatcher` of the incremental's schedule). Every few
seconds it reads ASPIRE's change clock (`include/sql/extract/select_change_clock.sql`: the read bound
`MIN_ACTIVE_ROWVERSION()` capped by one past the newest committed row version of the 15-minute tables; one tiny
query, a seek per table; with Change Tracking also its current version, which deletes move) and fires when the
clock is not where it last reported it: a transaction that wrote one of
those tables has ended since, which is exactly when the incremental has something new to read below its bound. A
transaction still open holds the bound back, so it fires once that transaction ends; writes elsewhere move nothing.
The clock it last reported is kept in the asset's state store, so a restarted triggerer carries on from it: it
neither fires again for what it reported nor misses what committed while it was down.

The triggerer imports this module from the plugins folder (it never imports the DAGs folder); it must stay free of
anything that needs a task's context.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from aspire_portal import catalogue, settings, sqlfiles
from aspire_portal.model import Dialect, dialect_of

log = logging.getLogger(__name__)

CURSOR_KEY = "reported_change_clock"


def change_clock(source: Any, dialect: Dialect) -> tuple[int, int, int, int]:
    """ASPIRE's change clock, its read bound, the newest committed row version of the 15-minute tables and Change
    Tracking's current version (0 without it)."""
    statement = sqlfiles.render(
        "extract/select_change_clock.sql",
        dialect=dialect,
        tables=[entity.source_table for entity in catalogue.entities("15min")],
    )
    with source.cursor() as cursor:
        cursor.execute(statement)
        clock, bound, newest, tracked = cursor.fetchone()
    return int(clock), int(bound), int(newest), int(tracked)


def open_source(connection: Any) -> Any:
    """A DB-API connection to ASPIRE from an Airflow Connection's fields, in autocommit: no transaction stays open
    on ASPIRE between polls. Built here rather than by the hook, whose get_conn() looks the connection up again
    through the triggerer's supervisor, which a worker thread must not call."""
    dialect = dialect_of(connection.conn_type)
    if dialect == "postgres":
        import psycopg

        return psycopg.connect(
            host=connection.host,
            port=connection.port or 5432,
            user=connection.login,
            password=connection.password,
            dbname=connection.schema,
            autocommit=True,
            connect_timeout=10,
            application_name="aspire_portal_change_watcher",
        )
    import pymssql

    return pymssql.connect(
        server=connection.host,
        port=str(connection.port or 1433),
        user=connection.login,
        password=connection.password,
        database=connection.schema,
        autocommit=True,
        login_timeout=10,
        timeout=30,
        appname="aspire_portal_change_watcher",
    )


class AspireChangeTrigger(BaseEventTrigger):
    """Fires when ASPIRE's change clock is not where it last reported it (see the module's docstring).

    `poll_seconds`: how often it asks ASPIRE. `conn_id`: the ASPIRE connection (the loads' `aspire`)."""

    def __init__(self, conn_id: str = settings.SOURCE_CONN_ID, poll_seconds: float = settings.WATCH_POLL_SECONDS):
        super().__init__()
        if not poll_seconds > 0:
            raise ValueError(f"poll_seconds must be a positive number of seconds, got {poll_seconds!r}")
        self.conn_id = conn_id
        self.poll_seconds = float(poll_seconds)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "conn_id": self.conn_id,
            "poll_seconds": self.poll_seconds,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk import BaseHook

        store = self.asset_state_store
        if store is None:
            raise RuntimeError("AspireChangeTrigger runs only as an asset watcher (it keeps its cursor in the asset)")
        reported = await store.aget(CURSOR_KEY)
        connection = await BaseHook.aget_connection(self.conn_id)
        dialect = dialect_of(connection.conn_type)
        log.info(
            "Watching ASPIRE (%s) every %.1f s; change clock last reported: %s",
            self.conn_id,
            self.poll_seconds,
            reported if reported is not None else "none yet",
        )
        source = None
        try:
            while True:
                try:
                    if source is None:
                        source = await asyncio.to_thread(open_source, connection)
                    clock, bound, newest, tracked = await asyncio.to_thread(change_clock, source, dialect)
                except Exception as error:  # noqa: BLE001 - ASPIRE away: the */15 floor still runs; keep watching
                    log.warning("Could not read ASPIRE's change clock (%s); trying again", error)
                    if source is not None:
                        with suppress(Exception):
                            await asyncio.to_thread(source.close)
                    source = None
                    await asyncio.sleep(max(self.poll_seconds, 30.0))
                    continue
                now = {"clock": clock, "tracked": tracked}
                if reported is None:
                    # First sight: what came before is the scheduled runs' (a watcher never replays history).
                    log.info("First reading of ASPIRE's change clock: %s; firing from the next change on", now)
                elif now != reported:
                    # Below it too: ASPIRE went back in time (a restore, a failover), and the run says so and heals.
                    log.info("ASPIRE committed changes: change clock %s -> %s", reported, now)
                    yield TriggerEvent({**now, "previous": reported, "read_bound": bound, "newest": newest})
                if now != reported:
                    # After the event is handed over: a triggerer stopped in between fires once more at worst.
                    await store.aset(CURSOR_KEY, now)
                    reported = now
                await asyncio.sleep(self.poll_seconds)
        finally:
            if source is not None:
                with suppress(Exception):
                    source.close()


def watching(environ: dict[str, str] | None = None) -> tuple[bool, float]:
    """Whether the incremental also runs on ASPIRE's changes, and how often the watcher asks: the environment
    variables ASPIRE_PORTAL_CHANGE_WATCHER (on, off) and ASPIRE_PORTAL_WATCH_POLL_SECONDS. A value that is
    neither is an error naming the variable (the DAG does not parse), never a silent default."""
    import os

    environ = os.environ if environ is None else environ
    switch = environ.get(settings.CHANGE_WATCHER_ENV, "on").strip().lower()
    if switch not in ("on", "off"):
        raise ValueError(f"{settings.CHANGE_WATCHER_ENV} must be 'on' or 'off', got {switch!r}")
    raw = environ.get(settings.WATCH_POLL_SECONDS_ENV, str(settings.WATCH_POLL_SECONDS)).strip()
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not 1.0 <= seconds <= 300.0:
        raise ValueError(f"{settings.WATCH_POLL_SECONDS_ENV} must be a number of seconds from 1 to 300, got {raw!r}")
    return switch == "on", seconds


def incremental_schedule(timetable: Any, environ: dict[str, str] | None = None) -> Any:
    """The incremental's schedule: `timetable` (the */15 floor, and what a backfill replays) or, with the watcher
    on, also the asset AspireChangeTrigger updates when ASPIRE commits."""
    from airflow.sdk import Asset, AssetOrTimeSchedule, AssetWatcher

    on, seconds = watching(environ)
    if not on:
        return timetable
    changes = Asset(
        name=settings.CHANGES_ASSET,
        uri="aspire-portal://aspire/changes",
        group="aspire_portal",
        watchers=[AssetWatcher(name="aspire_change_clock", trigger=AspireChangeTrigger(poll_seconds=seconds))],
    )
    return AssetOrTimeSchedule(timetable=timetable, assets=changes)
