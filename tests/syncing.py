"""The three DAGs' loads, run straight through the engine as their tasks run them (one resolved scope per run, then
one load per entity), for tests that must interleave loads at their commit points or run many syncs quickly. The
DAG tests (dag.test()) cover the same operations through Airflow."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from itertools import count
from types import SimpleNamespace

import psycopg

from aspire_emulator import generate
from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, migrations, model, planning, scope, timeline
from aspire_portal.load import load_entity

INCREMENTAL = "aspire_portal_incremental"
DAILY = "aspire_portal_daily_refresh"
FULL_SYNC = "aspire_portal_customer_full_sync"
PERMISSIVE = model.RemovalGuard(allowed=True)  # the suite's small portals: one customer is a fifth of a table
_runs = count(1)


def run_id(prefix: str) -> str:
    return f"{prefix}__{next(_runs)}"


def load(
    aspire_dsn: str,
    portal_dsn: str,
    request: model.LoadRequest,
    resolved: planning.Scope | None = None,
    *,
    guard: model.RemovalGuard = PERMISSIVE,
    checkpoint: model.Checkpoint | None = None,
    deletes: model.DeleteDetection = "key_check",
) -> model.LoadResult:
    """One load task: its own connections, as a worker opens them."""
    with psycopg.connect(aspire_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        return load_entity(
            source,
            target,
            request,
            dialect="postgres",
            scope=resolved,
            options=model.LoadOptions(guard=guard, checkpoint=checkpoint, deletes=deletes),
        )


def resolve(aspire_dsn: str, portal_dsn: str, dag_id: str, run: str, customers: Iterable[int] | None = None):
    """The run's migrate_portal_schema and resolve_scope tasks."""
    with psycopg.connect(aspire_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        migrations.migrate(target)
        return scope.resolve(
            source,
            target,
            "postgres",
            customers=None if customers is None else sorted(customers),
            dag_id=dag_id,
            run_id=run,
        )


def incremental_request(entity: catalogue.Entity, run: str) -> model.LoadRequest:
    """The load a scheduled incremental run makes of `entity` (daily entities: their scope changes only)."""
    kind = "incremental" if entity.cadence == "15min" else "scope"
    return model.LoadRequest(entity, kind, run=model.RunContext(INCREMENTAL, run, f"load_{entity.name}"))


def full_sync_request(entity: catalogue.Entity, customer: int, run: str) -> model.LoadRequest:
    return model.LoadRequest(
        entity,
        "full",
        accounts=(customer,),
        customer_id=customer,
        run=model.RunContext(FULL_SYNC, run, entity.task_id),
    )


def daily_request(entity: catalogue.Entity, run: str) -> model.LoadRequest:
    return model.LoadRequest(entity, "full", reconcile=True, run=model.RunContext(DAILY, run, f"refresh_{entity.name}"))


def incremental(
    aspire_dsn: str,
    portal_dsn: str,
    *,
    guard: model.RemovalGuard = PERMISSIVE,
    deletes: model.DeleteDetection = "key_check",
) -> dict[str, model.LoadResult]:
    """A scheduled run of aspire_portal_incremental: resolve, then every 15-minute entity and the daily entities'
    scope changes."""
    run = run_id("incremental")
    resolved = resolve(aspire_dsn, portal_dsn, INCREMENTAL, run)
    return {
        e.name: load(aspire_dsn, portal_dsn, incremental_request(e, run), resolved, guard=guard, deletes=deletes)
        for e in catalogue.ENTITIES
    }


def customer_full_sync(aspire_dsn: str, portal_dsn: str, customer: int) -> dict[str, model.LoadResult]:
    """A run of aspire_portal_customer_full_sync for one customer (its twelve loads in catalogue order)."""
    run = run_id("full_sync")
    resolved = resolve(aspire_dsn, portal_dsn, FULL_SYNC, run, [customer])
    return {
        e.name: load(aspire_dsn, portal_dsn, full_sync_request(e, customer, run), resolved) for e in catalogue.ENTITIES
    }


def daily_refresh(aspire_dsn: str, portal_dsn: str) -> dict[str, model.LoadResult]:
    """A run of aspire_portal_daily_refresh: every entity in full, for everyone, reconciled."""
    run = run_id("daily")
    with psycopg.connect(portal_dsn, autocommit=True) as target:
        migrations.migrate(target)
    return {e.name: load(aspire_dsn, portal_dsn, daily_request(e, run)) for e in catalogue.ENTITIES}


class Pause:
    """A load's checkpoint that stops it at one point of its transaction until `resume()`."""

    def __init__(self, at: str) -> None:
        self.at = at
        self.reached = threading.Event()
        self._go = threading.Event()

    def __call__(self, point: str) -> None:
        if point == self.at:
            self.reached.set()
            if not self._go.wait(120):
                raise TimeoutError(f"a paused load was not resumed (at {point})")

    def resume(self) -> None:
        self._go.set()

    def wait(self, load: Background, timeout: float = 60) -> None:
        """Waits until the load reaches the pause; fails with the load's own error if it ended before."""
        deadline = time.monotonic() + timeout
        while not self.reached.wait(0.05):
            if not load.thread.is_alive():
                load.join()
                raise AssertionError(f"the load ended without reaching {self.at!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the load did not reach {self.at!r} within {timeout} s")


class Background:
    """Runs a function in a thread and keeps what it returned or raised."""

    def __init__(self, function, *args, **kwargs) -> None:
        self.result = self.error = None

        def run():
            try:
                self.result = function(*args, **kwargs)
            except BaseException as error:  # noqa: BLE001 - handed to the test by join()
                self.error = error

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 120):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the background load did not finish"
        if self.error is not None:
            raise self.error
        return self.result


@contextmanager
def held_open_transaction(aspire_dsn: str, account_oid: int):
    """A transaction left open on ASPIRE (it holds MIN_ACTIVE_ROWVERSION() back), rolled back at the end."""
    with psycopg.connect(aspire_dsn) as held:
        held.execute("update dbo.account set phone = phone where accountoid = %s", (account_oid,))
        bound = held.execute("select pg_current_xact_id()::text::bigint").fetchone()[0]
        try:
            yield bound
        finally:
            held.rollback()


def held_scope(portal: psycopg.Connection, entity: str) -> tuple[set[int], set[int]]:
    """The accounts and contracts `entity` holds rows of, as the sync recorded them."""
    accounts = {
        r[0]
        for r in portal.execute("select account_oid from aspire_sync.entity_account_scope where entity = %s", (entity,))
    }
    contracts = {
        r[0]
        for r in portal.execute(
            "select contract_oid from aspire_sync.entity_contract_scope where entity = %s", (entity,)
        )
    }
    return accounts, contracts


def unheld_rows(portal: psycopg.Connection) -> dict[str, list[tuple]]:
    """Per entity, the portal rows whose owner the entity's held state does not hold: rows no later run would look at
    again (for entities whose rows name their owner: an account, a contract, or either)."""
    found = {}
    for entity in catalogue.ENTITIES:
        accounts, contracts = held_scope(portal, entity.name)
        key = ", ".join(entity.key)
        if entity.owner == "account":
            rows = portal.execute(f"select {key}, account_oid, null from {entity.target_table}").fetchall()
        elif entity.owner == "contract":
            rows = portal.execute(f"select {key}, null, contract_oid from {entity.target_table}").fetchall()
        elif entity.owner == "account_or_contract":
            rows = portal.execute(f"select {key}, account_oid, contract_oid from {entity.target_table}").fetchall()
        else:
            continue
        width = len(entity.key)
        bad = [r for r in rows if r[width] not in accounts and r[width + 1] not in contracts]
        if bad:
            found[entity.name] = bad[:5]
    return found


def rebaseline(aspire_dsn: str, portal_dsn: str) -> dict[str, model.LoadResult]:
    """What aspire_portal_daily_refresh with rebaseline runs: begin, every entity in full (ASPIRE winning whatever
    its row versions), finish (ASPIRE's timeline becomes the portal's)."""
    run = run_id("rebaseline")
    with psycopg.connect(aspire_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        timeline.start_rebaseline(source, target, "postgres")
    results = {
        e.name: load(
            aspire_dsn, portal_dsn, model.LoadRequest(e, "full", run=model.RunContext(run_id=run), rebaseline=True)
        )
        for e in catalogue.ENTITIES
    }
    with psycopg.connect(aspire_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        timeline.finish_rebaseline(source, target, "postgres")
    return results


def timeline_checked(aspire_dsn: str, portal_dsn: str) -> bool:
    """A run's first look at ASPIRE's timeline, as the DAGs take it; when ASPIRE went back, the re-baseline the sync
    then starts, run to its end. Whether it re-baselined."""
    with psycopg.connect(aspire_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        went_back = timeline.check(source, target, "postgres").went_back
    if went_back:
        rebaseline(aspire_dsn, portal_dsn)
    return went_back


def synced_world(
    fresh_database,
    name: str,
    *,
    seed: int,
    enroll_seed: int,
    customers: int,
    prepare: Callable[[str], object] | None = None,
) -> SimpleNamespace:
    """A small ASPIRE (`prepare` runs on it first), a portal with `count` customers enrolled and migrated, and one
    incremental run: aspire_dsn, portal_dsn and accounts."""
    aspire_dsn = fresh_database(f"{name}_aspire")
    generate.create(aspire_dsn, size="small", seed=seed)
    if prepare is not None:
        prepare(aspire_dsn)
    portal_dsn = fresh_database(f"{name}_portal")
    portal_app.create_portal_schema(portal_dsn)
    accounts = portal_app.enroll(portal_dsn, aspire_dsn, count=customers, seed=enroll_seed)
    with psycopg.connect(portal_dsn, autocommit=True) as portal:
        migrations.migrate(portal)
    incremental(aspire_dsn, portal_dsn)
    return SimpleNamespace(aspire_dsn=aspire_dsn, portal_dsn=portal_dsn, accounts=accounts)
