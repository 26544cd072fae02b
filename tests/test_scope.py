"""Scope as state: exits land in one 15-minute run, the customer full sync does not depend on task order,
scope flaps heal without the daily run, and "data as of" is honest. Emulator -> portal on a real PostgreSQL, through
the DAGs (dag.test()); the order test drives the same engine the full sync's tasks run, in both orders.

Both databases run with work_mem at its minimum (64kB): a plan that only works while a subquery fits in memory (an
unhashable NOT IN) shows up on small data as a test that never ends (pytest-timeout).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace

import psycopg
import pytest

from aspire_emulator import generate, simulate
from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, model, scope
from aspire_portal.load import load_entity
from helpers import (
    ADMIN_DSN,
    DAILY_DAG_ID,
    DB_PREFIX,
    FULL_SYNC_DAG_ID,
    database_dsn,
    loads,
    minimal_work_mem,
    run_dag,
    settle,
    use_connections,
)
from projection import SPEC, assert_portal_equals_source

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def world(fresh_database, dagbag):
    aspire_dsn = fresh_database("scope_aspire")
    generate.create(aspire_dsn, size="small", seed=808)
    portal_dsn = fresh_database("scope_portal")
    portal_app.create_portal_schema(portal_dsn)
    minimal_work_mem(aspire_dsn)
    minimal_work_mem(portal_dsn)
    portal_app.enroll(portal_dsn, aspire_dsn, count=12, seed=3)
    use_connections(aspire_dsn, portal_dsn)
    with psycopg.connect(aspire_dsn, autocommit=True) as aspire, psycopg.connect(portal_dsn, autocommit=True) as portal:
        w = SimpleNamespace(aspire_dsn=aspire_dsn, portal_dsn=portal_dsn, aspire=aspire, portal=portal)
        settle(aspire)
        run_dag(dagbag)  # the first run takes in every enrolled customer's scope, in all 12 entities
        assert_portal_equals_source(aspire, portal, enrolled(w))
        yield w


@pytest.fixture(autouse=True)
def _connections(world):
    use_connections(world.aspire_dsn, world.portal_dsn)


def enrolled(w) -> list[int]:
    return portal_app.enrolled_accounts(w.portal_dsn)


def rows_of_contract(portal: psycopg.Connection, contract_oid: int) -> dict[str, int]:
    """How many rows of each contract-linked portal table belong to the contract."""
    counts = {
        e.name: portal.execute(
            f"select count(*) from {e.target_table} where contract_oid = %s", (contract_oid,)
        ).fetchone()[0]
        for e in catalogue.ENTITIES
        if e.owner in ("contract", "account_or_contract", "invoice")
    }
    return {e: n for e, n in counts.items() if n}


def rows_of_account(portal: psycopg.Connection, account_oid: int) -> dict[str, int]:
    counts = {
        e.name: portal.execute(
            f"select count(*) from {e.target_table} where account_oid = %s", (account_oid,)
        ).fetchone()[0]
        for e in catalogue.ENTITIES
        if e.owner in ("account", "account_or_contract")
    }
    return {e: n for e, n in counts.items() if n}


def orphans(portal: psycopg.Connection) -> tuple[int, int]:
    """Invoice details whose invoice is not in the portal; contracts without a role in the portal."""
    details = portal.execute(
        "select count(*) from aspire.invoice_detail d where not exists "
        "(select 1 from aspire.invoice i where i.invoice_oid = d.invoice_oid)"
    ).fetchone()[0]
    contracts = portal.execute(
        "select count(*) from aspire.contract c where not exists "
        "(select 1 from aspire.contract_role r where r.contract_oid = c.contract_oid)"
    ).fetchone()[0]
    return details, contracts


def pick_contract(w, *, of: list[int], exclude: set[int] = frozenset(), enrolled_customer: bool = True) -> tuple:
    """A booked, billed contract with receipts whose Customer is (or is not) one of `of`, and no other enrolled
    account on it; (contract_oid, customer_account_oid)."""
    accounts = enrolled(w)
    customer_test = "= any(%(of)s)" if enrolled_customer else "<> all(%(of)s)"
    return w.aspire.execute(
        "select c.contractoid, c.customeraccountoid from dbo.contract c "
        "where c.isbooked = 1 and c.status = 'Commenced' "
        f"and c.customeraccountoid {customer_test} "
        "and c.contractoid <> all(%(exclude)s) "
        "and not exists (select 1 from dbo.contractrole r where r.contractoid = c.contractoid "
        "                and r.accountoid = any(%(enrolled)s) and r.accountoid <> c.customeraccountoid) "
        "and exists (select 1 from dbo.cashreceipt cr where cr.contractoid = c.contractoid) "
        "and exists (select 1 from dbo.invoicedetail d where d.contractoid = c.contractoid) "
        "and exists (select 1 from dbo.equipment e where e.contractoid = c.contractoid) "
        "order by c.contractoid limit 1",
        {"of": of, "exclude": list(exclude), "enrolled": accounts},
    ).fetchone()


def stranger(w) -> int:
    """A customer account nobody enrolled."""
    return w.aspire.execute(
        "select r.accountoid from dbo.contractrole r where r.roletype = 'Customer' "
        "and r.accountoid <> all(%s) order by r.accountoid limit 1",
        (enrolled(w),),
    ).fetchone()[0]


# ---- exits land in one run ----------------------------------------------------------------------------------


def test_every_kind_of_exit_leaves_every_entity_in_one_incremental_run(dagbag, world):
    """A contract transferred away, a Guarantor role removed, a contract un-booked and an account un-enrolled: after
    one incremental run nothing of theirs is in any portal table, and the portal equals the scope computed from
    the dbo tables directly (no leak, no missing row) for all 12 entities."""
    w = world
    accounts = enrolled(w)
    transferred, owner = pick_contract(w, of=accounts)
    unbooked, _ = pick_contract(w, of=accounts, exclude={transferred})
    guaranteed, _ = pick_contract(w, of=accounts, enrolled_customer=False)
    guarantor = next(a for a in accounts if a != owner)
    role = simulate.add_role(w.aspire_dsn, guaranteed, guarantor, "Guarantor")["ContractRole"][0]
    settle(w.aspire)
    run_dag(dagbag)
    assert rows_of_contract(w.portal, guaranteed)["invoice_detail"]  # the Guarantor brought it in
    leaving = next(a for a in accounts if a not in (owner, guarantor))
    for contract_oid in (transferred, unbooked):
        assert {
            "contract",
            "contract_role",
            "invoice",
            "invoice_detail",
            "cash_receipt",
            "equipment",
            "contract_values",
        } <= rows_of_contract(w.portal, contract_oid).keys()
    assert rows_of_account(w.portal, leaving)

    simulate.transfer_contract(w.aspire_dsn, transferred, stranger(w))
    simulate.remove_role(w.aspire_dsn, role)
    simulate.unbook_contract(w.aspire_dsn, unbooked)
    portal_app.unenroll(w.portal_dsn, leaving)
    settle(w.aspire)
    run = run_dag(dagbag)

    for contract_oid in (transferred, guaranteed):
        assert rows_of_contract(w.portal, contract_oid) == {}, f"contract {contract_oid} is still in the portal"
    # the un-booked contract is out; its invoices and receipts stay only as far as they are billed to its
    # (enrolled) customer, by the account rule
    assert rows_of_contract(w.portal, unbooked).keys() <= {"invoice", "invoice_detail", "cash_receipt"}
    assert rows_of_account(w.portal, leaving) == {}
    assert_portal_equals_source(w.aspire, w.portal, enrolled(w))
    assert orphans(w.portal) == (0, 0)
    log = loads(w.portal, run.run_id, scope_only=True)
    assert set(log) == set(SPEC) and all(row["status"] == "success" for row in log.values())
    assert log["equipment"]["load_kind"] == "scope" and log["equipment"]["rows_deleted"] > 0


# ---- the customer full sync, in any task order ---------------------------------------------------------------


def portal_state(portal: psycopg.Connection) -> dict[str, set]:
    """Every row of every aspire table, as key + row version."""
    return {
        e.name: set(portal.execute(f"select {', '.join(e.key)}, source_rowver from {e.target_table}").fetchall())
        for e in catalogue.ENTITIES
    }


def full_sync_in_order(aspire_dsn: str, portal_dsn: str, customer: int, order: list) -> None:
    """The customer full sync's twelve loads, in the given order, on its one resolved scope."""
    with psycopg.connect(aspire_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        resolved = scope.resolve(
            source, target, "postgres", customers=[customer], dag_id=FULL_SYNC_DAG_ID, run_id=f"order-{order[0].name}"
        )
        for entity in order:
            request = model.LoadRequest(
                entity=entity,
                kind="full",
                accounts=(customer,),
                customer_id=customer,
                run=model.RunContext(FULL_SYNC_DAG_ID, f"order-{order[0].name}"),
            )
            load_entity(source, target, request, dialect="postgres", scope=resolved)


def test_the_customer_full_sync_ends_the_same_in_either_task_order(dagbag, world):
    """After contract C moved away from enrolled B (and a Guarantor left another), B's full sync deletes C and all
    of it, whatever order its loads run in: no orphan invoice detail, no contract without its roles."""
    w = world
    accounts = enrolled(w)
    contract_oid, owner = pick_contract(w, of=accounts)
    settle(w.aspire)
    run_dag(dagbag)  # an incremental run resolves everyone's scope: B holds C in the scope state
    # two copies of the portal as it is now, one per order
    clone_names = {order: f"{DB_PREFIX}_scope_order_{order}" for order in ("forward", "reverse")}
    source_name = psycopg.conninfo.conninfo_to_dict(w.portal_dsn)["dbname"]
    w.portal.close()  # a template database must have no other session
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        for name in clone_names.values():
            admin.execute(f'drop database if exists "{name}" with (force)')
            admin.execute(f'create database "{name}" template "{source_name}"')
    w.portal = psycopg.connect(w.portal_dsn, autocommit=True)
    forward_dsn, reverse_dsn = (database_dsn(clone_names[k]) for k in ("forward", "reverse"))
    simulate.transfer_contract(w.aspire_dsn, contract_oid, stranger(w))
    settle(w.aspire)

    full_sync_in_order(w.aspire_dsn, forward_dsn, owner, list(catalogue.ENTITIES))
    full_sync_in_order(w.aspire_dsn, reverse_dsn, owner, list(reversed(catalogue.ENTITIES)))
    states = {}
    for name, dsn in (("forward", forward_dsn), ("reverse", reverse_dsn)):
        with psycopg.connect(dsn, autocommit=True) as portal:
            assert rows_of_contract(portal, contract_oid) == {}, f"{name}: contract {contract_oid} is still there"
            assert orphans(portal) == (0, 0), name
            states[name] = portal_state(portal)
    assert states["forward"] == states["reverse"]
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        for name in clone_names.values():
            admin.execute(f'drop database if exists "{name}" with (force)')

    # and through the DAG, on the shared portal: the same, then an incremental run finds nothing left to do
    run = run_dag(dagbag, FULL_SYNC_DAG_ID, {"customer_id": owner})
    assert rows_of_contract(w.portal, contract_oid) == {}
    assert orphans(w.portal) == (0, 0)
    assert portal_state(w.portal) == states["forward"]
    assert loads(w.portal, run.run_id)["contract"]["rows_deleted"] == 1
    settle(w.aspire)
    after = run_dag(dagbag)
    assert all(r["rows_deleted"] == 0 for r in loads(w.portal, after.run_id, scope_only=True).values())
    assert_portal_equals_source(w.aspire, w.portal, enrolled(w))


# ---- scope flaps, details without a contract, re-entry through the full sync ----------------------------------


def test_a_scope_flap_across_a_daily_run_is_healed_by_the_next_incremental(dagbag, world):
    """Guarantor added -> incremental -> role removed -> daily -> role re-added -> one incremental: the contract and
    everything of it are back (the daily run's deletes mark the contract as gone for every entity)."""
    w = world
    accounts = enrolled(w)
    contract_oid, _ = pick_contract(w, of=accounts, enrolled_customer=False)
    role = simulate.add_role(w.aspire_dsn, contract_oid, accounts[0], "Guarantor")["ContractRole"][0]
    settle(w.aspire)
    run_dag(dagbag)
    present = rows_of_contract(w.portal, contract_oid)
    assert present["invoice_detail"] and present["cash_receipt"] and present["equipment"]
    simulate.remove_role(w.aspire_dsn, role)
    settle(w.aspire)
    run_dag(dagbag, DAILY_DAG_ID)
    assert rows_of_contract(w.portal, contract_oid) == {}
    simulate.add_role(w.aspire_dsn, contract_oid, accounts[0], "Guarantor")
    settle(w.aspire)
    run_dag(dagbag)
    back = rows_of_contract(w.portal, contract_oid)
    assert back == present  # the removed role replaced by the new one
    assert_portal_equals_source(w.aspire, w.portal, enrolled(w))


def test_an_invoice_detail_without_a_contract_comes_in_with_its_invoices_contract(dagbag, world):
    w = world
    accounts = enrolled(w)
    contract_oid, _ = pick_contract(w, of=accounts, enrolled_customer=False)
    detail = w.aspire.execute(
        "update dbo.invoicedetail set contractoid = null where invoicedetailoid = "
        "(select min(invoicedetailoid) from dbo.invoicedetail where contractoid = %s) "
        "returning invoicedetailoid",
        (contract_oid,),
    ).fetchone()[0]
    simulate.add_role(w.aspire_dsn, contract_oid, accounts[1], "Guarantor")
    settle(w.aspire)
    run_dag(dagbag)
    assert w.portal.execute(
        "select contract_oid from aspire.invoice_detail where invoice_detail_oid = %s", (detail,)
    ).fetchone() == (None,)
    assert_portal_equals_source(w.aspire, w.portal, enrolled(w))


def test_a_contract_re_entering_through_the_full_sync_is_whole_and_stays_in_step(dagbag, world):
    w = world
    accounts = enrolled(w)
    contract_oid, owner = pick_contract(w, of=accounts)
    before = rows_of_contract(w.portal, contract_oid)
    simulate.unbook_contract(w.aspire_dsn, contract_oid)
    settle(w.aspire)
    run_dag(dagbag)
    # out: what only the contract justified (its invoices and receipts stay: billed to the enrolled customer)
    assert rows_of_contract(w.portal, contract_oid).keys() == {"invoice", "invoice_detail", "cash_receipt"}
    w.aspire.execute("update dbo.contract set isbooked = 1 where contractoid = %s", (contract_oid,))
    settle(w.aspire)
    run_dag(dagbag, FULL_SYNC_DAG_ID, {"customer_id": owner})
    assert rows_of_contract(w.portal, contract_oid) == before
    settle(w.aspire)
    after = run_dag(dagbag)  # the entities hold the contract again: nothing to bring, nothing to delete
    log = loads(w.portal, after.run_id, scope_only=True)
    assert all(r["rows_deleted"] == 0 and r["rows_inserted"] == 0 for r in log.values()), log
    assert_portal_equals_source(w.aspire, w.portal, enrolled(w))


# ---- honest "data as of" ----------------------------------------------------------------------------------------


def data_as_of(portal: psycopg.Connection, entity: str) -> datetime | None:
    return portal.execute("select data_as_of from aspire_sync.watermark where entity = %s", (entity,)).fetchone()[0]


def test_a_held_open_aspire_transaction_holds_data_as_of_back(dagbag, world, caplog):
    """A receipt committed while another ASPIRE transaction is open is (rightly) not read yet; data_as_of stays
    before its commit time, and the run log says which bound it waits on. Once the open transaction ends and the
    receipt is in, data_as_of moves past its commit time."""
    w = world
    customer = enrolled(w)[0]
    invoice = w.aspire.execute(
        "select invoiceoid from dbo.invoice where accountoid = any(%s) and balance > 0 "
        "and status in ('Open', 'PartiallyPaid') order by invoiceoid limit 1",
        (enrolled(w),),
    ).fetchone()[0]
    with psycopg.connect(w.aspire_dsn) as held:
        held.execute("update dbo.account set phone = phone where accountoid = %s", (customer,))
        held_at = datetime.now(UTC)
        time.sleep(0.05)
        receipt = simulate.post_receipt(w.aspire_dsn, invoice)["CashReceipt"][0]
        committed_at = datetime.now(UTC)
        bound = w.aspire.execute("select min_active_rowversion()").fetchone()[0]
        with caplog.at_level("INFO", logger="aspire_portal.engine"):
            run_dag(dagbag)
        assert not w.portal.execute("select 1 from aspire.cash_receipt where receipt_oid = %s", (receipt,)).fetchone()
        as_of = data_as_of(w.portal, "cash_receipt")
        assert as_of is not None and as_of < held_at < committed_at
        assert f"a transaction open on ASPIRE since row version {bound} holds it back" in caplog.text
        held.rollback()
    settle(w.aspire)
    run_dag(dagbag)
    assert w.portal.execute("select 1 from aspire.cash_receipt where receipt_oid = %s", (receipt,)).fetchone()
    assert data_as_of(w.portal, "cash_receipt") > committed_at


def test_the_emulators_read_bound_is_per_database(world, fresh_database):
    """A transaction open in another database of the server does not hold the bound back; one in the emulator does
    (SQL Server's MIN_ACTIVE_ROWVERSION() is per database)."""
    w = world
    other = fresh_database("scope_elsewhere")
    with psycopg.connect(other) as elsewhere:
        elsewhere.execute("create table t (x int)")
        elsewhere.execute("insert into t values (1)")  # holds a transaction id, open
        open_xid = elsewhere.execute("select pg_current_xact_id()::text::bigint").fetchone()[0]
        settle(w.aspire, timeout=30)
        assert w.aspire.execute("select min_active_rowversion()").fetchone()[0] > open_xid
        with psycopg.connect(w.aspire_dsn) as here:
            here.execute("update dbo.account set phone = phone where accountoid = %s", (enrolled(w)[0],))
            mine = here.execute("select pg_current_xact_id()::text::bigint").fetchone()[0]
            # held back to this transaction (or to one that began in this database just before it), never to the
            # other database's, which is older still
            assert open_xid < w.aspire.execute("select min_active_rowversion()").fetchone()[0] <= mine
        elsewhere.rollback()
