"""A model-based search for the next leak: a Hypothesis state machine whose rules are the sync's real operations and
ASPIRE's and the portal's real changes, on the emulator and a real portal database, with loads interleaved at their
commit points. After every step, every row the portal holds is held by its entity (a later run would look at it
again); a customer's full sync never removes a row that is in scope; after every quiet incremental run (no
transaction held open on ASPIRE), no row of any portal table is outside the scope computed straight from ASPIRE's
tables and the portal's enrolment table, and the 15-minute entities equal ASPIRE's projection exactly: rows deleted
in ASPIRE (roles, contacts, receipts, invoice detail lines) leave with the run.

`make test` runs it with a fixed seed and a bounded number of examples; `make test-stateful` runs it longer
(STATEFUL_EXAMPLES, STATEFUL_STEPS), with a random seed and shrinking: a failure prints the blob that replays it.
"""

from __future__ import annotations

import os
import random
import time

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from psycopg import sql

from aspire_emulator import backup, change_tracking, generate, simulate
from aspire_emulator import portal as portal_app
from aspire_portal import catalogue
from helpers import ADMIN_DSN, DB_PREFIX, database_dsn, settle
from projection import SPEC, portal_rows, source_projection
from syncing import (
    FULL_SYNC,
    INCREMENTAL,
    Background,
    Pause,
    customer_full_sync,
    daily_request,
    full_sync_request,
    incremental,
    incremental_request,
    load,
    resolve,
    run_id,
    timeline_checked,
    unheld_rows,
)

pytestmark = pytest.mark.timeout(1800)
FIFTEEN = [e.name for e in catalogue.entities("15min")]
ACTIVITY = [name for name in simulate.EVENTS if name not in ("remove_role", "delete_contact", "add_role")]
SCOPED_CONTRACTS = """
    select r.contractoid from dbo.contractrole r join dbo.contract c on c.contractoid = r.contractoid
    where c.isbooked = 1 and r.roletype in ('Customer', 'Guarantor') and r.accountoid = any(%(accounts)s)
"""
GOLDEN_ASPIRE = f"{DB_PREFIX}_stateful_aspire_golden"
GOLDEN_PORTAL = f"{DB_PREFIX}_stateful_portal_golden"


def _admin(statement: str, *names: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(*(sql.Identifier(n) for n in names)))


@pytest.fixture(scope="module")
def golden(fresh_database):
    """An emulator and a portal with six customers enrolled and synced, cloned for every example."""
    aspire_dsn = fresh_database("stateful_aspire_golden")
    generate.create(aspire_dsn, size="small", seed=2718)
    change_tracking.enable(aspire_dsn)  # for the machine that finds deletes by it; the other ignores it
    portal_dsn = fresh_database("stateful_portal_golden")
    portal_app.create_portal_schema(portal_dsn)
    portal_app.enroll(portal_dsn, aspire_dsn, count=6, seed=27)
    with psycopg.connect(aspire_dsn, autocommit=True) as aspire:
        settle(aspire)
    incremental(aspire_dsn, portal_dsn)
    return aspire_dsn, portal_dsn


class SyncMachine(RuleBasedStateMachine):
    """The world: a clone of the golden emulator and portal. The model: whether a transaction is held open on ASPIRE,
    and whether a backup exists to restore."""

    example = 0
    deletes = "key_check"  # how the 15-minute loads find rows deleted in ASPIRE

    def __init__(self) -> None:
        super().__init__()
        SyncMachine.example += 1
        names = (f"{DB_PREFIX}_stateful_aspire", f"{DB_PREFIX}_stateful_portal")
        for name, golden_name in zip(names, (GOLDEN_ASPIRE, GOLDEN_PORTAL), strict=True):
            _admin("drop database if exists {} with (force)", name)
            _admin("create database {} template {}", name, golden_name)
        self.aspire_dsn, self.portal_dsn = (database_dsn(n) for n in names)
        self.aspire = psycopg.connect(self.aspire_dsn, autocommit=True)
        self.portal = psycopg.connect(self.portal_dsn, autocommit=True)
        self.held: psycopg.Connection | None = None
        self.backed_up = False
        self.quiet = False  # the last step was a complete incremental run with no transaction held open

    def teardown(self) -> None:
        """Every example ends as a day does: the held transaction ends, one quiet incremental run, and the check."""
        try:
            if self.held is not None:
                self.end_held_transaction()
            self.incremental_run()
            self.after_a_quiet_incremental_the_portal_is_aspires_scope()
        finally:
            self.aspire.close()
            self.portal.close()

    # ---- what the model reads from the world --------------------------------------------------------------------

    def enrolled(self) -> list[int]:
        return portal_app.enrolled_accounts(self.portal_dsn)

    def pick(self, query: str, seed: int, **params) -> int | None:
        rows = [r[0] for r in self.aspire.execute(query, params).fetchall()]
        return random.Random(seed).choice(rows) if rows else None

    def settle(self) -> None:
        if self.held is None:
            settle(self.aspire)

    def timeline_checked(self) -> None:
        """Every run's first look at ASPIRE (resolve_scope, check_aspire_timeline); after a restore, the re-baseline
        the sync starts, to its end: the portal is then ASPIRE's, deletes included."""
        timeline_checked(self.aspire_dsn, self.portal_dsn)

    # ---- the sync -------------------------------------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        self.settle()

    @rule()
    def incremental_run(self) -> None:
        self.settle()
        self.timeline_checked()
        incremental(self.aspire_dsn, self.portal_dsn, deletes=self.deletes)
        self.quiet = self.held is None

    @rule()
    def another_incremental_run(self) -> None:
        """The same rule again: the incremental is what runs most, and each quiet one is checked."""
        self.incremental_run()

    @rule(seed=st.integers(0, 2**16))
    def customer_full_sync_run(self, seed: int) -> None:
        """A customer's full sync: it never removes a row that is in scope (anyone's), whatever changed since the
        newest scope of everyone (enrolments, contracts moved, invoices billed elsewhere)."""
        customers = self.enrolled()
        if customers:
            self.customer_full_sync_of(random.Random(seed).choice(customers))
        self.quiet = False

    def customer_full_sync_of(self, customer: int) -> None:
        self.settle()
        self.timeline_checked()
        before = self.in_scope_and_held(self.enrolled())
        customer_full_sync(self.aspire_dsn, self.portal_dsn, customer)
        after = {entity: set(portal_rows(self.portal, entity)) for entity in before}
        removed = {entity: sorted(keys - after[entity])[:5] for entity, keys in before.items() if keys - after[entity]}
        assert removed == {}, f"the full sync of {customer} removed rows in scope: {removed}"
        self.quiet = False

    def in_scope_and_held(self, accounts: list[int]) -> dict[str, set[tuple]]:
        """Per entity, the keys of the portal's rows that are in scope now (ASPIRE's committed rows, the enrolment)."""
        return {
            entity: set(source_projection(self.aspire, entity, accounts)) & set(portal_rows(self.portal, entity))
            for entity in SPEC
        }

    @rule(entity=st.sampled_from([e.name for e in catalogue.ENTITIES]))
    def daily_refresh_load(self, entity: str) -> None:
        self.settle()
        self.timeline_checked()
        load(self.aspire_dsn, self.portal_dsn, daily_request(catalogue.entity(entity), run_id("daily")))
        self.quiet = False

    @rule(
        entity=st.sampled_from([e.name for e in catalogue.ENTITIES]),
        first=st.sampled_from(["full_sync", "incremental"]),
        at=st.sampled_from(["merged", "before_commit"]),
        change=st.sampled_from(["unenrol", "transfer", "activity", "delete"]),
        seed=st.integers(0, 2**16),
    )
    def full_sync_races_incremental(self, entity: str, first: str, at: str, change: str, seed: int) -> None:
        """One load of a customer's full sync and the incremental's load of the same entity, one held at a commit
        point while a change lands and the other runs; then both finish."""
        customers = self.enrolled()
        if not customers:
            return
        customer = random.Random(seed).choice(customers)
        target = catalogue.entity(entity)
        self.settle()
        self.timeline_checked()
        sync_run = run_id("race_full_sync")
        sync_scope = resolve(self.aspire_dsn, self.portal_dsn, FULL_SYNC, sync_run, [customer])
        sync_request = full_sync_request(target, customer, sync_run)
        pause = Pause(at)
        if first == "full_sync":
            held = Background(load, self.aspire_dsn, self.portal_dsn, sync_request, sync_scope, checkpoint=pause)
            pause.wait(held)
            self.change(change, customer, seed)
            run = run_id("race_incremental")
            incremental_scope = resolve(self.aspire_dsn, self.portal_dsn, INCREMENTAL, run)
            other = Background(
                load,
                self.aspire_dsn,
                self.portal_dsn,
                incremental_request(target, run),
                incremental_scope,
                deletes=self.deletes,
            )
        else:
            self.change(change, customer, seed)
            run = run_id("race_incremental")
            incremental_scope = resolve(self.aspire_dsn, self.portal_dsn, INCREMENTAL, run)
            held = Background(
                load,
                self.aspire_dsn,
                self.portal_dsn,
                incremental_request(target, run),
                incremental_scope,
                checkpoint=pause,
                deletes=self.deletes,
            )
            pause.wait(held)
            other = Background(load, self.aspire_dsn, self.portal_dsn, sync_request, sync_scope)
        self.wait_until_blocked_or_done(other)
        pause.resume()
        held.join()
        other.join()
        self.quiet = False

    def wait_until_blocked_or_done(self, load: Background, timeout: float = 10) -> None:
        """Lets the other load run until it waits for a lock the held one has, or ends: the race is then real."""
        deadline = time.monotonic() + timeout
        while load.thread.is_alive() and time.monotonic() < deadline:
            waiting = self.portal.execute(
                "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'"
            ).fetchone()[0]
            if waiting:
                return
            time.sleep(0.02)

    def change(self, change: str, customer: int, seed: int) -> None:
        if change == "unenrol":
            portal_app.unenroll(self.portal_dsn, customer)
        elif change == "transfer":
            contract = self.pick(
                "select contractoid from dbo.contract where customeraccountoid = %(a)s and isbooked = 1",
                seed,
                a=customer,
            )
            if contract is not None:
                simulate.transfer_contract(self.aspire_dsn, contract, self.stranger(seed))
        elif change == "delete":  # one of the customer's receipts, the full sync may have read it already
            receipt = self.pick("select receiptoid from dbo.cashreceipt where accountoid = %(a)s", seed, a=customer)
            if receipt is not None:
                simulate.delete_receipt(self.aspire_dsn, receipt)
        else:
            self.activity(seed, 3)

    # ---- ASPIRE and the portal change -----------------------------------------------------------------------------

    def stranger(self, seed: int) -> int:
        return self.pick(
            "select accountoid from dbo.account where accountoid <> all(%(e)s) order by 1 limit 50",
            seed,
            e=self.enrolled(),
        )

    @rule(seed=st.integers(0, 2**16), events=st.integers(1, 8))
    def activity(self, seed: int, events: int) -> None:
        rng = random.Random(seed)
        with psycopg.connect(self.aspire_dsn, autocommit=True) as conn:
            for name in rng.choices(ACTIVITY, k=events):
                try:
                    simulate.EVENTS[name][0](conn, rng=rng)
                except simulate.NoCandidate:
                    pass
        self.quiet = False

    @rule(seed=st.integers(0, 2**16), to_enrolled=st.booleans())
    def transfer(self, seed: int, to_enrolled: bool) -> None:
        contract = self.pick(f"select * from ({SCOPED_CONTRACTS}) as s", seed, accounts=self.enrolled())
        enrolled = self.enrolled()
        to = random.Random(seed).choice(enrolled) if to_enrolled and enrolled else self.stranger(seed)
        if contract is not None and to is not None:
            simulate.transfer_contract(self.aspire_dsn, contract, to)
        self.quiet = False

    @rule(seed=st.integers(0, 2**16), to_enrolled=st.booleans())
    def invoice_billed_elsewhere(self, seed: int, to_enrolled: bool) -> None:
        """An in-scope contract's invoice billed to another account (a third party pays it), enrolled or not."""
        enrolled = self.enrolled()
        invoice = self.pick(
            f"select invoiceoid from dbo.invoice where contractoid in ({SCOPED_CONTRACTS}) order by 1 limit 200",
            seed,
            accounts=enrolled,
        )
        to = random.Random(seed).choice(enrolled) if to_enrolled and enrolled else self.stranger(seed)
        if invoice is not None and to is not None:
            self.aspire.execute("update dbo.invoice set accountoid = %s where invoiceoid = %s", (to, invoice))
        self.quiet = False

    @rule(seed=st.integers(0, 2**16), role=st.sampled_from(["Guarantor", "Vendor", "CoLessee"]))
    def role_added(self, seed: int, role: str) -> None:
        contract = self.pick("select contractoid from dbo.contract where isbooked = 1 order by 1 limit 400", seed)
        enrolled = self.enrolled()
        account = random.Random(seed + 1).choice(enrolled) if enrolled and seed % 2 else self.stranger(seed)
        simulate.add_role(self.aspire_dsn, contract, account, role)
        self.quiet = False

    @rule(seed=st.integers(0, 2**16))
    def scenario_defined(self, seed: int) -> None:
        """A new product definition used by one in-scope contract only: what makes shared reference data leave."""
        contract = self.pick(f"select * from ({SCOPED_CONTRACTS}) as s", seed, accounts=self.enrolled())
        if contract is not None:
            simulate.new_scenario(self.aspire_dsn, contract)
        self.quiet = False

    @rule(seed=st.integers(0, 2**16))
    def role_removed(self, seed: int) -> None:
        role = self.pick(
            "select contractroleoid from dbo.contractrole where roletype <> 'Customer' and (accountoid = any(%(e)s) "
            f"or contractoid in ({SCOPED_CONTRACTS}))",
            seed,
            e=self.enrolled(),
            accounts=self.enrolled(),
        )
        if role is not None:
            simulate.remove_role(self.aspire_dsn, role)
        self.quiet = False

    @rule(seed=st.integers(0, 2**16))
    def contact_deleted(self, seed: int) -> None:
        contact = self.pick(
            "select contactoid from dbo.accountcontact where isprimary = 0 and accountoid = any(%(e)s)",
            seed,
            e=self.enrolled(),
        )
        if contact is not None:
            simulate.delete_contact(self.aspire_dsn, contact)
        self.quiet = False

    @rule(seed=st.integers(0, 2**16), what=st.sampled_from(["receipt", "invoice_detail"]))
    def money_row_deleted(self, seed: int, what: str) -> None:
        """A receipt or an invoice detail line of an enrolled customer deleted outright in ASPIRE."""
        query = (
            "select receiptoid from dbo.cashreceipt where accountoid = any(%(e)s) order by 1 limit 200"
            if what == "receipt"
            else "select d.invoicedetailoid from dbo.invoicedetail d join dbo.invoice i on i.invoiceoid = d.invoiceoid "
            "where i.accountoid = any(%(e)s) order by 1 limit 200"
        )
        oid = self.pick(query, seed, e=self.enrolled())
        if oid is not None:
            if what == "receipt":
                simulate.delete_receipt(self.aspire_dsn, oid)
            else:
                simulate.delete_invoice_detail(self.aspire_dsn, oid)
        self.quiet = False

    @rule(seed=st.integers(0, 2**16))
    def enrol(self, seed: int) -> None:
        account = self.pick(
            "select customeraccountoid from dbo.contract where customeraccountoid <> all(%(e)s) order by 1 limit 100",
            seed,
            e=self.enrolled(),
        )
        if account is not None:
            portal_app.enroll(self.portal_dsn, self.aspire_dsn, account_oid=account)
        self.quiet = False

    @rule(seed=st.integers(0, 2**16))
    def enrol_and_full_sync(self, seed: int) -> None:
        """As the portal enrols a customer: a user linked, then that customer's full sync, before any 15-minute run
        (the newest scope of everyone has not seen it)."""
        before = set(self.enrolled())
        self.enrol(seed)
        for customer in set(self.enrolled()) - before:
            self.customer_full_sync_of(customer)

    @rule(seed=st.integers(0, 2**16))
    def unenrol(self, seed: int) -> None:
        enrolled = self.enrolled()
        if enrolled:
            portal_app.unenroll(self.portal_dsn, random.Random(seed).choice(enrolled))
        self.quiet = False

    @precondition(lambda self: self.held is None)
    @rule(seed=st.integers(0, 2**16))
    def hold_aspire_transaction(self, seed: int) -> None:
        self.held = psycopg.connect(self.aspire_dsn)
        account = self.pick("select accountoid from dbo.account order by 1 limit 50", seed)
        self.held.execute("update dbo.account set phone = phone where accountoid = %s", (account,))
        self.quiet = False

    @rule()
    def aspire_backed_up(self) -> None:
        backup.backup(self.aspire_dsn, "machine")
        self.backed_up = True

    @precondition(lambda self: self.backed_up)
    @rule()
    def aspire_restored(self) -> None:
        """ASPIRE restored from the backup (its counter set back, a new recovery fork): every session of it ends."""
        backup.restore(self.aspire_dsn, "machine")
        self.aspire = psycopg.connect(self.aspire_dsn, autocommit=True)
        self.held = None  # the restore ended it
        self.quiet = False

    @precondition(lambda self: self.held is not None)
    @rule()
    def end_held_transaction(self) -> None:
        self.held.rollback()
        self.held.close()
        self.held = None
        self.quiet = False

    # ---- what must hold -------------------------------------------------------------------------------------------

    @invariant()
    def every_portal_row_is_held_by_its_entity(self) -> None:
        assert unheld_rows(self.portal) == {}

    @invariant()
    def after_a_quiet_incremental_the_portal_is_aspires_scope(self) -> None:
        if not self.quiet:
            return
        accounts = self.enrolled()
        leaks = self.out_of_scope(accounts)
        assert leaks == {}, f"rows outside the scope: {leaks}"
        for entity in FIFTEEN:
            expected = source_projection(self.aspire, entity, accounts)
            actual = portal_rows(self.portal, entity)
            missing = sorted(set(expected) - set(actual))[:5]
            assert not missing, f"{entity}: missing {missing}"
            extra = set(actual) - set(expected)
            assert not extra, f"{entity}: rows that are not ASPIRE's {sorted(extra)[:5]}"
            differing = [k for k in expected if actual[k] != expected[k]][:5]
            assert not differing, f"{entity}: values differ for {differing}"

    def out_of_scope(self, accounts: list[int]) -> dict[str, list]:
        """Per entity, portal rows whose owner is not in the scope ASPIRE and the enrolment table give now."""
        scoped = {r[0] for r in self.aspire.execute(SCOPED_CONTRACTS, {"accounts": accounts})}
        enrolled = set(accounts)
        invoices = {
            r[0]
            for r in self.aspire.execute(
                "select invoiceoid from dbo.invoice where accountoid = any(%s) or contractoid = any(%s)",
                (accounts, list(scoped)),
            )
        }
        scenarios = {
            r[0]
            for r in self.aspire.execute(
                "select distinct scenariooid from dbo.contract where contractoid = any(%s)", (list(scoped),)
            )
        }
        found = {}
        for entity in catalogue.ENTITIES:
            key = SPEC[entity.name][3]
            if entity.owner == "account":
                rows = self.portal.execute(f"select {key}, account_oid from {entity.target_table}").fetchall()
                bad = [r for r in rows if r[-1] not in enrolled]
            elif entity.owner == "contract":
                rows = self.portal.execute(f"select {key}, contract_oid from {entity.target_table}").fetchall()
                bad = [r for r in rows if r[-1] not in scoped]
            elif entity.owner == "account_or_contract":
                rows = self.portal.execute(
                    f"select {key}, account_oid, contract_oid from {entity.target_table}"
                ).fetchall()
                bad = [r for r in rows if r[-2] not in enrolled and r[-1] not in scoped]
            elif entity.owner == "invoice":
                rows = self.portal.execute(f"select {key}, invoice_oid from {entity.target_table}").fetchall()
                bad = [r for r in rows if r[-1] not in invoices]
            else:
                rows = self.portal.execute(f"select {key} from {entity.target_table}").fetchall()
                bad = [r for r in rows if r[0] not in scenarios]
            if bad:
                found[entity.name] = bad[:5]
        return found


class ChangeTrackingMachine(SyncMachine):
    """The same machine, its 15-minute loads finding deletes by SQL Server Change Tracking."""

    deletes = "change_tracking"


@pytest.mark.parametrize(
    ("machine", "examples"), [(SyncMachine, 10), (ChangeTrackingMachine, 6)], ids=["key_check", "change_tracking"]
)
def test_no_sequence_of_operations_leaks_or_loses_a_row(golden, machine, examples):
    long_run = "STATEFUL_EXAMPLES" in os.environ
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=int(os.environ.get("STATEFUL_EXAMPLES", str(examples))),
            stateful_step_count=int(os.environ.get("STATEFUL_STEPS", "20")),
            deadline=None,
            derandomize=not long_run,  # make test: the same examples every run
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate, Phase.shrink] if long_run else [Phase.generate],
            print_blob=True,
        ),
    )


@pytest.mark.parametrize("machine", [SyncMachine, ChangeTrackingMachine], ids=["key_check", "change_tracking"])
def test_a_contract_moved_to_another_customer_stays_after_a_full_sync_of_the_first(golden, machine):
    """A sequence the machine found: with a transaction held open on ASPIRE, a contract moves from one enrolled
    customer to another, both are full-synced, and the full sync of the first removed the contract's other roles.
    Its scope was the newest scope of everyone (resolved before the move) plus its own fresh links, so no one held
    the contract; the rows' row versions were below every later read, and no later run put them back."""
    state = machine()
    state.start()
    state.enrol(seed=512)
    state.hold_aspire_transaction(seed=6529)
    state.enrol(seed=466)
    state.unenrol(seed=15496)
    state.incremental_run()
    state.transfer(seed=814, to_enrolled=True)
    state.customer_full_sync_run(seed=10)
    state.customer_full_sync_run(seed=4)
    state.teardown()
