"""The 04:00 daily full refresh, driven through the real DAG with dag.test(), emulator -> portal on a real
PostgreSQL: the portal equals the source projection after it, deletes propagate (a restructured schedule, an
un-enrolled customer), readers never see half a load, the schedule holds across both DST changes, and a second
run writes nothing.

The module seeds its own small emulator (it changes ASPIRE) and portal; the tests share them and run in file
order, each one bringing the portal up to date itself where it needs a known starting point.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest

from aspire_emulator import generate, simulate
from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, model
from aspire_portal.load import load_entity
from helpers import minimal_work_mem, use_connections
from projection import SPEC, assert_portal_equals_source, money_sums, portal_rows, source_projection

DAG_ID = "aspire_portal_daily_refresh"
CHICAGO = ZoneInfo("America/Chicago")
ENROLLED = 120  # 20% of the small book's 600 customers (the design's 15-30%)
STALE_OFFSET = 900_000_000  # added to a key to make a row ASPIRE never had
# the tables with rows of an account (and the column naming it), and the tables with rows of a contract
ACCOUNT_COLUMN = {
    "account": "account_oid",
    "account_contact": "account_oid",
    "line_of_credit": "account_oid",
    "invoice": "account_oid",
    "cash_receipt": "account_oid",
    "contract_role": "account_oid",
    "contract": "customer_account_oid",
}
ACCOUNT_TABLES = ("account", "account_contact", "line_of_credit")
CONTRACT_TABLES = (
    "contract",
    "contract_role",
    "contract_values",
    "amortization_line",
    "equipment",
    "invoice",
    "invoice_detail",
    "cash_receipt",
)


@dataclass
class World:
    aspire_dsn: str
    portal_dsn: str
    aspire: psycopg.Connection
    portal: psycopg.Connection

    @property
    def enrolled(self) -> list[int]:
        return portal_app.enrolled_accounts(self.portal_dsn)


@pytest.fixture(scope="module")
def world(fresh_database):
    aspire_dsn = fresh_database("daily_aspire")
    generate.create(aspire_dsn, size="small", seed=42)
    portal_dsn = fresh_database("daily_portal")
    portal_app.create_portal_schema(portal_dsn)
    minimal_work_mem(aspire_dsn)
    minimal_work_mem(portal_dsn)
    portal_app.enroll(portal_dsn, aspire_dsn, count=ENROLLED, seed=4)
    # autocommit: an idle open transaction here would hold back ASPIRE's read bound (min active row version)
    with psycopg.connect(aspire_dsn, autocommit=True) as aspire, psycopg.connect(portal_dsn, autocommit=True) as portal:
        yield World(aspire_dsn, portal_dsn, aspire, portal)


def refresh(dagbag, world: World):
    """One run of the daily DAG; it must succeed."""
    use_connections(world.aspire_dsn, world.portal_dsn)
    run = dagbag.get_dag(DAG_ID).test()
    assert run.state == "success", f"daily refresh run {run.run_id} ended {run.state}"
    return run


def run_log(portal: psycopg.Connection, run_id: str) -> dict[str, tuple]:
    """entity -> (load_kind, status, rows_read, inserted, updated, deleted) of one run's loads."""
    rows = portal.execute(
        "select entity, load_kind, status, rows_read, rows_inserted, rows_updated, rows_deleted "
        "from aspire_sync.run_log where dag_id = %s and run_id = %s",
        (DAG_ID, run_id),
    ).fetchall()
    logged = {row[0]: row[1:] for row in rows}
    assert len(logged) == len(rows), f"an entity was loaded twice in run {run_id}"
    return logged


def table_state(portal: psycopg.Connection, entity: str) -> dict[tuple, tuple]:
    """key -> (source_rowver, synced_at) of every row of aspire.<entity>: a row rewritten gets a new synced_at."""
    key = ", ".join(catalogue.entity(entity).key)
    rows = portal.execute(f"select {key}, source_rowver, synced_at from aspire.{entity}").fetchall()
    width = len(catalogue.entity(entity).key)
    return {tuple(r[:width]): tuple(r[width:]) for r in rows}


def plant_stale_row(portal: psycopg.Connection, entity: str) -> tuple:
    """Copies one row of aspire.<entity> under a key ASPIRE never had (an old row version, as if a row deleted in
    ASPIRE had been synced long ago); returns its key."""
    spec = catalogue.entity(entity)
    columns = [
        r[0]
        for r in portal.execute(
            "select column_name from information_schema.columns where table_schema = 'aspire' and table_name = %s "
            "order by ordinal_position",
            (entity,),
        )
    ]
    bumped = spec.key[-1]
    values = [f"{c} + {STALE_OFFSET}" if c == bumped else "1" if c == "source_rowver" else c for c in columns]
    key = ", ".join(spec.key)
    row = portal.execute(
        f"insert into aspire.{entity} ({', '.join(columns)}) "
        f"select {', '.join(values)} from aspire.{entity} order by {key} limit 1 returning {key}"
    ).fetchone()
    assert row is not None, f"aspire.{entity} is empty; nothing to copy"
    return tuple(row)


# ---- 5. the schedule -----------------------------------------------------------------------------------------


def scheduled_runs(timetable, first: date, last: date) -> list[datetime]:
    """The run times the timetable gives for the local days first..last (inclusive), one after the other."""
    from airflow.timetables.base import TimeRestriction

    earliest = datetime(first.year, first.month, first.day, tzinfo=CHICAGO)
    latest = datetime(last.year, last.month, last.day, tzinfo=CHICAGO) + timedelta(days=1) - timedelta(seconds=1)
    restriction = TimeRestriction(earliest=earliest, latest=latest, catchup=True)
    runs, previous = [], None
    while info := timetable.next_dagrun_info(last_automated_data_interval=previous, restriction=restriction):
        runs.append(info.run_after)
        previous = info.data_interval
        assert len(runs) < 50, "the timetable does not advance"
    return runs


@pytest.mark.parametrize(
    ("first", "change", "last", "utc_before", "utc_after"),
    [
        (date(2026, 3, 6), date(2026, 3, 8), date(2026, 3, 11), 10, 9),  # CST -> CDT at 02:00 on 8 March
        (date(2026, 10, 30), date(2026, 11, 1), date(2026, 11, 4), 9, 10),  # CDT -> CST at 02:00 on 1 November
    ],
)
def test_one_run_per_local_day_at_four_across_dst(dagbag, first, change, last, utc_before, utc_after):
    from airflow.timetables.trigger import CronTriggerTimetable

    timetable = dagbag.get_dag(DAG_ID).timetable
    assert isinstance(timetable, CronTriggerTimetable)
    runs = scheduled_runs(timetable, first, last)
    local = [run.astimezone(CHICAGO) for run in runs]
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    assert [t.date() for t in local] == days, f"not one run per local day: {[t.isoformat() for t in local]}"
    assert all((t.hour, t.minute, t.second) == (4, 0, 0) for t in local), [t.isoformat() for t in local]
    utc_hours = [run.astimezone(ZoneInfo("UTC")).hour for run in runs]
    assert utc_hours == [utc_before if day < change else utc_after for day in days], utc_hours
    # the local day of the change is 23 hours long in March and 25 in November
    gaps = {(runs[i + 1].timestamp() - runs[i].timestamp()) / 3600 for i in range(len(runs) - 1)}
    assert gaps == {24, 24 + utc_after - utc_before}


# ---- 1. the portal equals the source projection ----------------------------------------------------------------


def in_scope_contracts(world: World, accounts: list[int]) -> list[int]:
    return sorted(k[0] for k in source_projection(world.aspire, "contract", accounts))


def test_refresh_makes_every_entity_equal_the_source_projection(dagbag, world):
    enrolled = world.enrolled
    # an enrolled customer guarantees a commenced contract of a customer who is not enrolled: in scope
    guaranteed = world.aspire.execute(
        "select c.contractoid from dbo.contract c where c.isbooked = 1 and c.status = 'Commenced' and not exists "
        "(select 1 from dbo.contractrole r where r.contractoid = c.contractoid and r.accountoid = any(%s)) "
        "order by 1 limit 1",
        (enrolled,),
    ).fetchone()[0]
    guarantee = simulate.add_role(world.aspire_dsn, guaranteed, enrolled[0], "Guarantor")["ContractRole"][0]
    first = refresh(dagbag, world)
    assert_portal_equals_source(world.aspire, world.portal, enrolled)
    assert (guaranteed,) in portal_rows(world.portal, "contract")
    # ASPIRE moves on: a day of activity, plus changes aimed at enrolled customers that only a full load sees
    # as deletions (a contact deleted, a contract unbooked, the guarantee released: that contract leaves the scope)
    simulate.simulate(world.aspire_dsn, events=150, seed=11)
    simulate.remove_role(world.aspire_dsn, guarantee)
    contracts = in_scope_contracts(world, enrolled)
    unbooked = contracts[len(contracts) // 2]
    world.aspire.execute("update dbo.contract set isbooked = 0 where contractoid = %s", (unbooked,))
    contact = world.aspire.execute(
        "select contactoid from dbo.accountcontact where accountoid = any(%s) and isprimary = 0 order by 1 limit 1",
        (enrolled,),
    ).fetchone()[0]
    simulate.delete_contact(world.aspire_dsn, contact)
    terminated = next(
        c
        for c in reversed(contracts)
        if world.aspire.execute(
            "select status = 'Commenced' and isbooked = 1 from dbo.contract where contractoid = %s", (c,)
        ).fetchone()[0]
    )
    simulate.terminate_contract(world.aspire_dsn, terminated)
    # and rows the portal holds that ASPIRE no longer has, in every table
    stale = {entity.name: plant_stale_row(world.portal, entity.name) for entity in catalogue.ENTITIES}
    assert (unbooked,) in portal_rows(world.portal, "contract")

    second = refresh(dagbag, world)

    counts = assert_portal_equals_source(world.aspire, world.portal, enrolled)
    assert all(counts[e] > 0 for e in SPEC), f"an entity has no rows, the test proves little: {counts}"
    # the contract that left the scope is gone with everything hanging off it; of the unbooked one, the invoices
    # (and their lines) billed to its enrolled customer stay, the rest goes
    for contract_oid, entities in ((guaranteed, CONTRACT_TABLES), (unbooked, CONTRACT_TABLES[:5])):
        for entity in entities:
            assert (
                world.portal.execute(
                    f"select count(*) from aspire.{entity} where contract_oid = %s", (contract_oid,)
                ).fetchone()[0]
                == 0
            ), f"{entity} of {contract_oid} left"
    assert (contact,) not in portal_rows(world.portal, "account_contact")
    for entity, key in stale.items():
        assert key not in portal_rows(world.portal, entity), f"stale {entity} row {key} survived the refresh"
    for run in (first, second):
        logged = run_log(world.portal, run.run_id)
        assert set(logged) == {e.name for e in catalogue.ENTITIES}
        assert {(kind, status) for kind, status, *_ in logged.values()} == {("full", "success")}
    logged = run_log(world.portal, second.run_id)
    assert all(deleted >= 1 for *_, deleted in logged.values()), logged  # each load deleted its stale row
    assert {e: logged[e][2] for e in SPEC} == counts  # each load read exactly its projection


# ---- 6. a second run writes nothing ------------------------------------------------------------------------------


def test_a_second_refresh_writes_nothing(dagbag, world):
    refresh(dagbag, world)
    before = {entity: table_state(world.portal, entity) for entity in SPEC}
    run = refresh(dagbag, world)
    logged = run_log(world.portal, run.run_id)
    assert set(logged) == set(SPEC)
    assert {e: rows[3:] for e, rows in logged.items()} == {e: (0, 0, 0) for e in SPEC}, logged
    assert all(rows[2] > 0 for rows in logged.values()), f"a load read nothing: {logged}"
    assert {entity: table_state(world.portal, entity) for entity in SPEC} == before  # not a row rewritten


# ---- 2. a restructured schedule; operating leases -------------------------------------------------------------


def schedule(conn: psycopg.Connection, table: str, contract_oid: int) -> tuple[int, int, Decimal, Decimal]:
    """(line count, last line number, principal sum, payment sum) of one contract's schedule."""
    line_no = '"LineNo"' if table == "dbo.amortizationline" else "line_no"
    contract = "contractoid" if table == "dbo.amortizationline" else "contract_oid"
    return conn.execute(
        f"select count(*), max({line_no}), coalesce(sum(principal), 0), coalesce(sum(payment), 0) "
        f"from {table} where {contract} = %s",
        (contract_oid,),
    ).fetchone()


def test_lines_removed_by_a_restructure_disappear_and_operating_leases_have_none(dagbag, world):
    refresh(dagbag, world)
    candidates = world.aspire.execute(
        "select c.contractoid, c.termmonths from dbo.contract c "
        "join dbo.contractscenario s on s.scenariooid = c.scenariooid "
        "where c.contractoid = any(%s) and c.status = 'Commenced' and s.producttype <> 'OperatingLease' "
        "order by c.termmonths desc, c.contractoid",
        (in_scope_contracts(world, world.enrolled),),
    ).fetchall()
    shortened = {}  # contract -> (lines before, lines after)
    for contract_oid, term in candidates:
        before = schedule(world.aspire, "dbo.amortizationline", contract_oid)
        try:
            simulate.restructure(world.aspire_dsn, contract_oid, term_months=term - 12)
        except ValueError:  # too little of the schedule left to take a year off
            continue
        shortened[contract_oid] = (before, schedule(world.aspire, "dbo.amortizationline", contract_oid))
        if len(shortened) == 5:
            break
    assert len(shortened) == 5, "not enough in-scope contracts can be shortened by a year"
    removed = set()
    for contract_oid, (before, after) in shortened.items():
        assert after[0] < before[0]
        removed |= {(contract_oid, n) for n in range(after[1] + 1, before[1] + 1)}
        assert schedule(world.portal, "aspire.amortization_line", contract_oid) == before  # still the old schedule
    portal_lines = set(portal_rows(world.portal, "amortization_line"))
    assert removed <= portal_lines

    run = refresh(dagbag, world)

    portal_lines = set(portal_rows(world.portal, "amortization_line"))
    assert not removed & portal_lines, f"lines removed in ASPIRE are still in the portal: {sorted(removed)[:5]}"
    for contract_oid, (_before, after) in shortened.items():
        assert schedule(world.portal, "aspire.amortization_line", contract_oid) == after
        term = world.portal.execute(
            "select term_months from aspire.contract where contract_oid = %s", (contract_oid,)
        ).fetchone()[0]
        assert (
            term
            == world.aspire.execute(
                "select termmonths from dbo.contract where contractoid = %s", (contract_oid,)
            ).fetchone()[0]
        )
    assert run_log(world.portal, run.run_id)["amortization_line"][5] >= len(removed)
    assert_portal_equals_source(world.aspire, world.portal, world.enrolled)
    # operating leases, as the portal's developers would ask for them: in the portal, and without a schedule
    operating = world.portal.execute(
        "select c.contract_oid from aspire.contract c join aspire.contract_scenario s using (scenario_oid) "
        "where s.product_type = 'OperatingLease'"
    ).fetchall()
    assert len(operating) >= 5, "too few operating leases in scope to say anything"
    assert (
        world.portal.execute(
            "select count(*) from aspire.amortization_line where contract_oid = any(%s)", ([c for (c,) in operating],)
        ).fetchone()[0]
        == 0
    )


# ---- 3. an un-enrolled customer's rows are all gone ---------------------------------------------------------


def test_an_unenrolled_customer_leaves_no_rows_and_others_are_untouched(dagbag, world):
    enrolled = world.enrolled
    # the customer to un-enrol: one with a line of credit, contacts and several contracts of its own
    (leaving,) = world.aspire.execute(
        "select a.accountoid from dbo.account a "
        "where a.accountoid = any(%s) and exists (select 1 from dbo.lineofcredit l where l.accountoid = a.accountoid) "
        "  and exists (select 1 from dbo.accountcontact k where k.accountoid = a.accountoid) "
        "order by (select count(*) from dbo.contract c where c.customeraccountoid = a.accountoid and c.isbooked = 1) "
        "  desc, a.accountoid limit 1",
        (enrolled,),
    ).fetchone()
    staying = [a for a in enrolled if a != leaving]
    own = in_scope_contracts(world, [leaving])
    assert len(own) >= 2
    # another enrolled customer guarantees one of its contracts: that contract must stay
    guarantor = staying[0]
    shared = own[0]
    simulate.add_role(world.aspire_dsn, shared, guarantor, "Guarantor")
    refresh(dagbag, world)
    kept = set(in_scope_contracts(world, staying))
    assert shared in kept
    gone = [c for c in own if c not in kept]
    assert gone
    before = {entity: table_state(world.portal, entity) for entity in SPEC}
    for entity, column in ACCOUNT_COLUMN.items():
        assert (
            world.portal.execute(f"select count(*) from aspire.{entity} where {column} = %s", (leaving,)).fetchone()[0]
            > 0
        ), f"{entity} holds nothing of the customer"

    assert portal_app.unenroll(world.portal_dsn, leaving) >= 1
    assert leaving not in world.enrolled
    run = refresh(dagbag, world)

    # every table holds exactly the scope of the customers still enrolled
    expected = assert_portal_equals_source(world.aspire, world.portal, staying)
    # nothing of the customer is left, apart from what hangs off contracts other customers keep in scope
    for entity, column in ACCOUNT_COLUMN.items():
        left = "" if entity in ACCOUNT_TABLES else " and (contract_oid is null or contract_oid <> all(%(kept)s))"
        rows = world.portal.execute(
            f"select count(*) from aspire.{entity} where {column} = %(leaving)s{left}",
            {"leaving": leaving, "kept": sorted(kept)},
        ).fetchone()[0]
        assert rows == 0, f"aspire.{entity} still holds {rows} row(s) of un-enrolled account {leaving}"
    for entity in CONTRACT_TABLES:
        rows = world.portal.execute(
            f"select count(*) from aspire.{entity} where contract_oid = any(%s)", (gone,)
        ).fetchone()[0]
        assert rows == 0, f"aspire.{entity} still holds {rows} row(s) of its contracts {gone}"
    for entity in ("contract", "contract_values", "contract_role"):
        assert (
            world.portal.execute(f"select count(*) from aspire.{entity} where contract_oid = %s", (shared,)).fetchone()[
                0
            ]
            > 0
        ), f"{entity} of the guaranteed contract was deleted"
    # the other customers' rows were neither deleted nor rewritten, and nothing was added
    after = {entity: table_state(world.portal, entity) for entity in SPEC}
    deleted = 0
    for entity in SPEC:
        assert set(after[entity]) <= set(before[entity]), f"{entity}: rows added"
        assert after[entity] == {k: before[entity][k] for k in after[entity]}, f"{entity}: rows rewritten"
        assert len(after[entity]) == expected[entity]
        deleted += len(before[entity]) - len(after[entity])
    assert deleted > 0
    assert sum(rows[5] for rows in run_log(world.portal, run.run_id).values()) == deleted


# ---- 4. readers see the old state or the new one --------------------------------------------------------------

# Two statements per poll: the lock one must not touch an aspire table, or it would wait behind the very lock
# it looks for. The counts come from one statement, so from one snapshot.
POLL_LOCKS = """
select
    count(*) filter (where n.nspname = 'aspire' and l.mode = 'AccessExclusiveLock'),
    count(*) filter (where c.relname = 'amortization_line' and n.nspname = 'aspire'
                       and l.mode = 'RowExclusiveLock' and l.granted and l.pid <> pg_backend_pid())
from pg_locks l
join pg_class c on c.oid = l.relation
join pg_namespace n on n.oid = c.relnamespace
"""
POLL_TABLE = """
select
    (select count(*) from aspire.amortization_line),
    (select coalesce(sum(interest), 0) from aspire.amortization_line)
"""


@dataclass(frozen=True)
class Seen:
    started: float
    ended: float
    count: int
    interest: Decimal
    exclusive_locks: int
    writer_active: int


class Poller(threading.Thread):
    """Polls the amortization table's count and interest sum (one snapshot per poll), with its own connection."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.stop = threading.Event()
        self.seen: list[Seen] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                conn.execute("set lock_timeout = '1s'")  # a reader blocked behind an exclusive lock fails
                while not self.stop.is_set():
                    started = time.perf_counter()
                    exclusive_locks, writer_active = conn.execute(POLL_LOCKS).fetchone()
                    count, interest = conn.execute(POLL_TABLE).fetchone()
                    self.seen.append(
                        Seen(started, time.perf_counter(), count, interest, exclusive_locks, writer_active)
                    )
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error

    def wait_for(self, polls: int, after: float) -> None:
        deadline = time.perf_counter() + 30
        while sum(1 for s in self.seen if s.started > after) < polls:
            assert self.error is None and time.perf_counter() < deadline, self.error
            time.sleep(0.005)


def amortization_totals(rows: dict[tuple, tuple]) -> tuple[int, Decimal]:
    """(line count, interest sum): a restructure keeps the principal sum (the balance left) but not the interest."""
    return len(rows), money_sums(rows)[2]


def test_a_reader_sees_the_old_or_the_new_schedule_never_a_mix(dagbag, world):
    refresh(dagbag, world)
    enrolled = world.enrolled
    old = amortization_totals(portal_rows(world.portal, "amortization_line"))
    assert old == amortization_totals(source_projection(world.aspire, "amortization_line", enrolled))
    # restructure most amortizing in-scope contracts, a year longer or shorter: the refresh deletes, inserts
    # and updates lines all over the table
    candidates = [
        c
        for (c,) in world.aspire.execute(
            "select c.contractoid from dbo.contract c join dbo.contractscenario s on s.scenariooid = c.scenariooid "
            "where c.contractoid = any(%s) and c.status = 'Commenced' and s.producttype <> 'OperatingLease' "
            "order by 1",
            (in_scope_contracts(world, enrolled),),
        )
    ]
    changed = 0
    with psycopg.connect(world.aspire_dsn, autocommit=True) as conn:
        for contract_oid in candidates:
            try:
                simulate.restructure(conn, contract_oid, rng=random.Random(contract_oid))
                changed += 1
            except (ValueError, simulate.NoCandidate):
                continue
    assert changed >= 40, f"only {changed} contracts restructured"
    new = amortization_totals(source_projection(world.aspire, "amortization_line", enrolled))
    assert new[0] != old[0] and new[1] != old[1]

    poller = Poller(world.portal_dsn)
    poller.start()
    try:
        poller.wait_for(3, after=0)
        load_started = time.perf_counter()
        marks: dict[str, float] = {}

        def checkpoint(point: str) -> None:
            marks.setdefault(point, time.perf_counter())
            if point == "merged":  # the writes are in, uncommitted: let readers look at them, however busy the host
                poller.wait_for(2, after=marks[point])

        with psycopg.connect(world.aspire_dsn) as source, psycopg.connect(world.portal_dsn, autocommit=True) as target:
            result = load_entity(
                source,
                target,
                model.LoadRequest(
                    entity=catalogue.entity("amortization_line"),
                    kind="full",
                    run=model.RunContext(dag_id=DAG_ID, run_id="test_reader", task_id="refresh_amortization_line"),
                ),
                dialect="postgres",
                # the commit comes after this point: a poll that ended before it must see the old state
                options=model.LoadOptions(checkpoint=checkpoint),
            )
        load_ended = time.perf_counter()
        poller.wait_for(3, after=load_ended)
    finally:
        poller.stop.set()
        poller.join(timeout=30)
    assert poller.error is None, f"the reader failed: {poller.error!r}"
    assert result.rows_inserted > 0 and result.rows_deleted > 0 and result.rows_updated > 0, result.summary()

    seen = poller.seen
    values = {(s.count, s.interest) for s in seen}
    assert values <= {old, new}, f"a reader saw a half-applied refresh: {sorted(values - {old, new})[:5]}"
    assert max(s.exclusive_locks for s in seen) == 0, "an ACCESS EXCLUSIVE lock was taken on an aspire table"
    # polls that ended before the commit could begin (the load's own after-commit work is no part of "during")
    during = [s for s in seen if s.started >= load_started and s.ended <= marks["before_commit"]]
    assert len(during) >= 5, f"only {len(during)} polls during a {marks['before_commit'] - load_started:.3f}s load"
    assert all((s.count, s.interest) == old for s in during)
    # some polls ran while the load's writes to the table were in progress and uncommitted, and saw the old state
    assert any(s.writer_active for s in during), "no poll overlapped the load's writes; make the load larger"
    assert all((s.count, s.interest) == new for s in seen if s.started > load_ended)
    assert amortization_totals(portal_rows(world.portal, "amortization_line")) == new
