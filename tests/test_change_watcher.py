"""The change watcher (aspire_portal.watcher.AspireChangeTrigger), run as the triggerer runs it, against a real
emulator: it fires on a commit to a 15-minute table and on nothing else (a quiet ASPIRE, a daily table, another
database of the same server, a transaction still open), and a restarted watcher carries on from its stored cursor.

The state store here is a dictionary with the accessor's async get/set: the real one needs a triggerer and its
supervisor, and tests/test_live_stack.py runs the watcher there."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from aspire_emulator import change_tracking, generate, simulate
from aspire_portal import watcher
from helpers import settle, use_connections

pytestmark = [pytest.mark.timeout(300), pytest.mark.passwords]  # the watcher connects by its URI
POLL = 0.2
_real_sleep = asyncio.sleep  # the watcher's back-off is shortened below; the test's own waits are not


class Store:
    """The asset state store's accessor, as the triggerer hands it to an event trigger (aget, aset)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = value


@pytest.fixture(scope="module")
def aspire(fresh_database):
    dsn = fresh_database("watcher_aspire")
    generate.create(dsn, size="small", seed=1919)
    other = fresh_database("watcher_other")
    use_connections(dsn, other)
    return dsn, other


class Watch:
    """A watcher running in its own event loop, as the triggerer runs it (one task iterating its events), advanced
    step by step: `events(seconds)` lets it run that long and returns what it fired meanwhile."""

    def __init__(self, store: Store) -> None:
        self.trigger = watcher.AspireChangeTrigger(poll_seconds=POLL)
        self.trigger.asset_state_store = store
        self.loop = asyncio.new_event_loop()
        self.fired: list[dict] = []

        async def collect() -> None:
            async for event in self.trigger.run():
                self.fired.append(event.payload)

        self.task = self.loop.create_task(collect())

    def events(self, seconds: float) -> list[dict]:
        self.loop.run_until_complete(_real_sleep(seconds))
        if self.task.done():
            self.task.result()  # the watcher stopped: its error is the test's
        fired, self.fired = self.fired, []
        return fired

    def stop(self) -> None:
        self.task.cancel()
        try:
            self.loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass
        self.loop.close()


def settled(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        settle(conn)


def clock(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        now = watcher.change_clock(conn, "postgres")
    return {"clock": now[0], "tracked": now[3]}


def test_it_fires_on_a_commit_and_on_nothing_else(aspire):
    aspire_dsn, other_dsn = aspire
    store = Store()
    watch = Watch(store)
    try:
        assert watch.events(3 * POLL) == [], "the first reading only sets the cursor"
        start = store.values[watcher.CURSOR_KEY]
        assert start == clock(aspire_dsn)

        # Quiet ASPIRE, busy server: another database's writes and a daily table's write move nothing.
        with psycopg.connect(other_dsn, autocommit=True) as other:
            other.execute("create table if not exists busy (n int)")
            for n in range(20):
                other.execute("insert into busy values (%s)", (n,))
        with psycopg.connect(aspire_dsn, autocommit=True) as conn:
            conn.execute(
                "update dbo.amortizationline set lastmodifiedat = lastmodifiedat where contractoid = "
                "(select min(contractoid) from dbo.amortizationline)"
            )
        assert watch.events(4 * POLL) == []
        assert store.values[watcher.CURSOR_KEY] == start

        # A payment committed: one event, however many polls follow.
        simulate.post_receipt(aspire_dsn)
        settled(aspire_dsn)
        fired = watch.events(5 * POLL)
        assert len(fired) == 1, fired
        assert fired[0]["previous"] == start and fired[0]["clock"] > start["clock"]
        assert store.values[watcher.CURSOR_KEY] == clock(aspire_dsn) == {k: fired[0][k] for k in ("clock", "tracked")}

        # A transaction still open: nothing until it commits, then one event.
        held = psycopg.connect(aspire_dsn)
        try:
            held.execute("select 1")
            simulate.post_receipt(held)
            assert watch.events(5 * POLL) == []
            held.commit()
        finally:
            held.close()
        settled(aspire_dsn)
        fired_after = watch.events(5 * POLL)
        assert len(fired_after) == 1, fired_after
        assert fired_after[0]["previous"] == {k: fired[0][k] for k in ("clock", "tracked")}
    finally:
        watch.stop()


def test_a_restarted_watcher_neither_fires_again_nor_misses(aspire):
    aspire_dsn, _ = aspire
    store = Store()
    first = Watch(store)
    try:
        first.events(2 * POLL)
        simulate.post_receipt(aspire_dsn)
        settled(aspire_dsn)
        assert len(first.events(4 * POLL)) == 1
    finally:
        first.stop()
    reported = store.values[watcher.CURSOR_KEY]

    # The triggerer restarts with nothing new: the stored cursor says it reported this already.
    second = Watch(store)
    try:
        assert second.events(4 * POLL) == []
    finally:
        second.stop()

    # A change committed while no triggerer ran: the next one fires for it at once.
    simulate.edit_contact(aspire_dsn)
    settled(aspire_dsn)
    third = Watch(store)
    try:
        fired = third.events(4 * POLL)
        assert len(fired) == 1 and fired[0]["previous"] == reported, fired
    finally:
        third.stop()


def test_aspire_away_is_a_warning_and_the_watcher_goes_on(aspire, monkeypatch, caplog):
    """A poll that cannot reach ASPIRE logs why and tries again; it neither fires nor stops."""
    aspire_dsn, _ = aspire
    store = Store()
    calls = {"n": 0}
    real = watcher.open_source

    def unreachable_once(connection):
        calls["n"] += 1
        if calls["n"] == 1:
            raise psycopg.OperationalError("connection refused")
        return real(connection)

    monkeypatch.setattr(watcher, "open_source", unreachable_once)
    monkeypatch.setattr(watcher.asyncio, "sleep", _fast_sleep)
    watch = Watch(store)
    try:
        assert watch.events(0.5) == []
        assert any(
            "Could not read ASPIRE's change clock (connection refused)" in r.getMessage() for r in caplog.records
        )
        assert store.values[watcher.CURSOR_KEY] == clock(aspire_dsn)
    finally:
        watch.stop()


async def _fast_sleep(seconds: float) -> None:
    # the 30 s back-off after a failed poll, shortened so the test sees the next poll
    await _real_sleep(min(seconds, 0.05))


def test_the_switch_and_the_poll_interval_are_checked():
    assert watcher.watching({}) == (True, 5.0)
    assert watcher.watching({"ASPIRE_PORTAL_CHANGE_WATCHER": "off"}) == (False, 5.0)
    assert watcher.watching({"ASPIRE_PORTAL_WATCH_POLL_SECONDS": "2.5"}) == (True, 2.5)
    with pytest.raises(ValueError, match=r"ASPIRE_PORTAL_CHANGE_WATCHER must be 'on' or 'off', got 'maybe'"):
        watcher.watching({"ASPIRE_PORTAL_CHANGE_WATCHER": "maybe"})
    for bad in ("0", "abc", "1000", "nan"):
        with pytest.raises(ValueError, match=rf"ASPIRE_PORTAL_WATCH_POLL_SECONDS must be .* got '{bad}'"):
            watcher.watching({"ASPIRE_PORTAL_WATCH_POLL_SECONDS": bad})
    off = watcher.incremental_schedule("the cron timetable", {"ASPIRE_PORTAL_CHANGE_WATCHER": "off"})
    assert off == "the cron timetable"


def test_a_delete_fires_with_change_tracking_and_waits_for_the_floor_without(aspire):
    """A delete takes no row version, so without Change Tracking it moves no clock (the */15 floor, or the next
    change, carries it); with Change Tracking enabled, its current version moves and the watcher fires."""
    aspire_dsn, _ = aspire
    oldest = "select min(contactoid) from dbo.accountcontact"
    store = Store()
    watch = Watch(store)
    try:
        watch.events(2 * POLL)
        with psycopg.connect(aspire_dsn) as conn:
            simulate.delete_contact(aspire_dsn, conn.execute(oldest).fetchone()[0])
        settled(aspire_dsn)
        assert watch.events(4 * POLL) == []

        change_tracking.enable(aspire_dsn)
        settled(aspire_dsn)
        watch.events(4 * POLL)  # enabling it is a change of its own
        with psycopg.connect(aspire_dsn) as conn:
            simulate.delete_contact(aspire_dsn, conn.execute(oldest).fetchone()[0])
        settled(aspire_dsn)
        fired = watch.events(4 * POLL)
        assert len(fired) == 1 and fired[0]["tracked"] > fired[0]["previous"]["tracked"], fired
        assert fired[0]["clock"] == fired[0]["previous"]["clock"]
    finally:
        watch.stop()
