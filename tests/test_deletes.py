"""Rows deleted in ASPIRE leave the portal with the next 15-minute run: every load of a 15-minute entity reads the
keys ASPIRE's table still has and removes the portal rows whose key is gone, below the read bound, in its own
transaction. A row-version cursor alone never sees a delete (no row is left to carry a new version)."""

from __future__ import annotations

from types import SimpleNamespace

import psycopg
import pytest

from aspire_emulator import change_tracking, simulate
from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, migrations, model
from helpers import settle
from projection import assert_portal_equals_source
from syncing import (
    FULL_SYNC,
    Background,
    Pause,
    customer_full_sync,
    full_sync_request,
    incremental,
    load,
    resolve,
    run_id,
    synced_world,
)

pytestmark = pytest.mark.timeout(600)
FIFTEEN = [e.name for e in catalogue.entities("15min")]
KEYS = {e.name: (e.target_table, e.key[0]) for e in catalogue.ENTITIES}


@pytest.fixture(scope="module")
def world(fresh_database):
    # Change Tracking enabled as a DBA would: the key check runs all the same where it is chosen
    return synced_world(
        fresh_database, "deletes", seed=1830, enroll_seed=30, customers=8, prepare=change_tracking.enable
    )


def in_portal(w, entity: str, key: int) -> bool:
    table, column = KEYS[entity]
    with psycopg.connect(w.portal_dsn) as portal:
        return portal.execute(f"select 1 from {table} where {column} = %s", (key,)).fetchone() is not None


def in_step(w) -> None:
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire, psycopg.connect(w.portal_dsn) as portal:
        settle(aspire)
        assert_portal_equals_source(aspire, portal, w.accounts)


def one(w, query: str) -> int:
    with psycopg.connect(w.aspire_dsn) as aspire:
        return aspire.execute(query, {"a": w.accounts}).fetchone()[0]


def delete_contract_outright(aspire_dsn: str, contract: int) -> None:
    """A contract keyed in by mistake, removed with everything of it (children first, as the foreign keys ask)."""
    with psycopg.connect(aspire_dsn) as aspire:
        aspire.execute(
            "delete from dbo.invoicedetail where invoiceoid in "
            "(select invoiceoid from dbo.invoice where contractoid = %s)",
            (contract,),
        )
        children = ("invoicedetail", "invoice", "cashreceipt", "contractrole", "contractvalues", "amortizationline")
        for table in (*children, "equipment"):
            aspire.execute(f"delete from dbo.{table} where contractoid = %s", (contract,))
        aspire.execute("delete from dbo.contract where contractoid = %s", (contract,))


@pytest.mark.parametrize("deletes", ["key_check", "change_tracking"])
def test_every_fifteen_minute_entity_loses_its_deleted_rows_in_one_run(world, deletes):
    w = world
    first = incremental(w.aspire_dsn, w.portal_dsn, deletes=deletes)  # with Change Tracking: its first version
    assert {first[e].deletes_found_by for e in FIFTEEN} == {"key_check"}
    role = one(
        w,
        "select min(contractroleoid) from dbo.contractrole where roletype <> 'Customer' and contractoid in "
        "(select contractoid from dbo.contractrole where roletype = 'Customer' and accountoid = any(%(a)s))",
    )
    contact = one(w, "select min(contactoid) from dbo.accountcontact where accountoid = any(%(a)s)")
    receipt = one(w, "select max(receiptoid) from dbo.cashreceipt where accountoid = any(%(a)s)")
    detail = one(
        w,
        "select max(d.invoicedetailoid) from dbo.invoicedetail d join dbo.invoice i on i.invoiceoid = d.invoiceoid "
        "where i.accountoid = any(%(a)s)",
    )
    invoice = one(
        w,
        "select max(invoiceoid) from dbo.invoice where accountoid = any(%(a)s) and invoiceoid <> "
        f"(select invoiceoid from dbo.invoicedetail where invoicedetailoid = {detail})",
    )
    contract = one(
        w,
        "select max(c.contractoid) from dbo.contract c where c.customeraccountoid = any(%(a)s) and c.isbooked = 1 "
        "and c.contractoid not in (select contractoid from dbo.contractrole where contractroleoid = "
        f"{role}) and c.contractoid not in (select contractoid from dbo.cashreceipt where receiptoid = {receipt})",
    )
    gone = {
        "contract_role": role,
        "account_contact": contact,
        "cash_receipt": receipt,
        "invoice_detail": detail,
        "invoice": invoice,
        "contract": contract,
    }
    assert all(in_portal(w, entity, key) for entity, key in gone.items()), gone

    simulate.remove_role(w.aspire_dsn, role)
    simulate.delete_contact(w.aspire_dsn, contact)
    simulate.delete_receipt(w.aspire_dsn, receipt)
    simulate.delete_invoice_detail(w.aspire_dsn, detail)
    with psycopg.connect(w.aspire_dsn) as aspire:
        aspire.execute("delete from dbo.invoicedetail where invoiceoid = %s", (invoice,))
        aspire.execute("delete from dbo.invoice where invoiceoid = %s", (invoice,))
    delete_contract_outright(w.aspire_dsn, contract)
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        settle(aspire)

    results = incremental(w.aspire_dsn, w.portal_dsn, deletes=deletes)
    assert {results[e].deletes_found_by for e in FIFTEEN} == {deletes}
    assert not any(in_portal(w, entity, key) for entity, key in gone.items())
    assert all(results[e].rows_deleted >= 1 for e in gone), {e: results[e].rows_deleted for e in gone}
    in_step(w)


@pytest.mark.parametrize("deletes", ["key_check", "change_tracking"])
def test_a_delete_past_a_held_open_transaction_and_one_out_of_scope_in_the_same_window(world, deletes):
    """A transaction held open on ASPIRE holds the read bound back, but a committed delete is final: the row goes in
    the same run. A row that left the scope and was then deleted in the same window goes too."""
    w = world
    incremental(w.aspire_dsn, w.portal_dsn, deletes=deletes)
    receipt = one(w, "select min(receiptoid) from dbo.cashreceipt where accountoid = any(%(a)s)")
    contract = one(
        w,
        "select min(c.contractoid) from dbo.contract c join dbo.contractrole r on r.contractoid = c.contractoid "
        "where r.roletype = 'Customer' and r.accountoid = any(%(a)s) and c.isbooked = 1 and exists "
        "(select 1 from dbo.invoice i where i.contractoid = c.contractoid)",
    )
    moved = one(w, f"select max(invoiceoid) from dbo.invoice where contractoid = {contract}")
    stranger = one(w, "select min(accountoid) from dbo.account where accountoid <> all(%(a)s)")
    held = psycopg.connect(w.aspire_dsn)
    try:
        held.execute("update dbo.account set phone = phone where accountoid = %s", (stranger,))
        simulate.delete_receipt(w.aspire_dsn, receipt)
        simulate.transfer_contract(w.aspire_dsn, contract, stranger)  # out of scope ...
        with psycopg.connect(w.aspire_dsn) as aspire:  # ... and one of its invoices then deleted
            aspire.execute("delete from dbo.invoicedetail where invoiceoid = %s", (moved,))
            aspire.execute("delete from dbo.invoice where invoiceoid = %s", (moved,))
        incremental(w.aspire_dsn, w.portal_dsn, deletes=deletes)
        assert not in_portal(w, "cash_receipt", receipt)
        assert not in_portal(w, "invoice", moved)
    finally:
        held.rollback()
        held.close()
    incremental(w.aspire_dsn, w.portal_dsn)
    in_step(w)


def test_with_deletes_left_to_the_daily_refresh_they_wait(world):
    """A site that must not read whole key indexes every 15 minutes (Variable aspire_portal_delete_detection =
    daily): the deleted row stays until a run with the key check (or the daily refresh); a bad setting is refused."""
    w = world
    contact = one(w, "select max(contactoid) from dbo.accountcontact where accountoid = any(%(a)s)")
    simulate.delete_contact(w.aspire_dsn, contact)
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        settle(aspire)
    incremental(w.aspire_dsn, w.portal_dsn, deletes="daily")
    assert in_portal(w, "account_contact", contact)
    incremental(w.aspire_dsn, w.portal_dsn)
    assert not in_portal(w, "account_contact", contact)
    with pytest.raises(
        ValueError,
        match=r"aspire_portal_delete_detection\) must be one of key_check, change_tracking, daily, got 'weekly'",
    ):
        model.LoadOptions(deletes="weekly")
    in_step(w)


def test_the_key_check_says_what_it_read_and_when_it_costs_too_much(world, monkeypatch, caplog):
    """Each key check logs how many keys ASPIRE has and how long they took; past the slow threshold it warns and
    names Change Tracking, since its cost grows with ASPIRE's tables and not with what changed."""
    w = world
    receipt = one(w, "select max(receiptoid) from dbo.cashreceipt where accountoid = any(%(a)s)")
    simulate.delete_receipt(w.aspire_dsn, receipt)
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        settle(aspire)
        receipts = aspire.execute("select count(*) from dbo.cashreceipt").fetchone()[0]
    caplog.set_level("INFO", logger="aspire_portal.vanished")
    incremental(w.aspire_dsn, w.portal_dsn)
    lines = [r.getMessage() for r in caplog.records if r.name == "aspire_portal.vanished"]
    assert any(
        line.startswith(f"Key check of cash_receipt: {receipts} key(s) ASPIRE has, read in ")
        and line.endswith("; 1 portal row(s) deleted in ASPIRE removed")
        for line in lines
    ), lines
    assert not [r for r in caplog.records if r.levelname == "WARNING" and r.name == "aspire_portal.vanished"]

    caplog.clear()
    monkeypatch.setattr("aspire_portal.settings.KEY_CHECK_SLOW_SECONDS", 0.0)
    incremental(w.aspire_dsn, w.portal_dsn)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name == "aspire_portal.vanished"]
    assert len(warned) == len(FIFTEEN), warned
    assert all("SQL Server Change Tracking" in line for line in warned), warned
    in_step(w)


def versions(w) -> dict[str, int]:
    with psycopg.connect(w.portal_dsn) as portal:
        return dict(portal.execute("select entity, version from aspire_sync.change_tracking_version").fetchall())


def test_change_tracking_past_its_retention_falls_back_to_the_key_check(world):
    """The cleanup removed changes the sync had not read (its version is below the minimum valid one): that run
    checks every key, loses nothing, and carries on from the current version."""
    w = world
    incremental(w.aspire_dsn, w.portal_dsn, deletes="change_tracking")
    before = versions(w)
    receipt = one(w, "select max(receiptoid) from dbo.cashreceipt where accountoid = any(%(a)s)")
    simulate.delete_receipt(w.aspire_dsn, receipt)
    simulate.edit_account(w.aspire_dsn, w.accounts[0])
    assert change_tracking.cleanup(w.aspire_dsn, 0) > 0  # a retention shorter than the sync's gap
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        settle(aspire)
    results = incremental(w.aspire_dsn, w.portal_dsn, deletes="change_tracking")
    assert results["cash_receipt"].deletes_found_by == "key_check"
    assert results["invoice"].deletes_found_by == "change_tracking"  # nothing of it was cleaned up past its version
    assert not in_portal(w, "cash_receipt", receipt)
    assert versions(w)["cash_receipt"] > before["cash_receipt"]
    in_step(w)


def test_a_table_without_change_tracking_is_refused_with_what_to_do(world):
    w = world
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        aspire.execute("delete from sys.change_tracking_tables where object_name = 'dbo.ContractRole'")
    try:
        with pytest.raises(model.ChangeTrackingMissing, match="not enabled on dbo.ContractRole.*Nothing was written"):
            incremental(w.aspire_dsn, w.portal_dsn, deletes="change_tracking")
    finally:
        change_tracking.enable(w.aspire_dsn)


def test_a_full_sync_that_read_a_row_before_its_delete_cannot_leave_it_behind(world):
    """A customer's full sync reads a receipt, the receipt is deleted, the incremental reads Change Tracking while
    the full sync is still to commit (it cannot see the row yet), then the full sync commits the row. The version
    stayed where it was, so the next run reads the delete again and the row goes."""
    w = world
    incremental(w.aspire_dsn, w.portal_dsn, deletes="change_tracking")
    customer = w.accounts[2]
    receipt = one(w, f"select max(receiptoid) from dbo.cashreceipt where accountoid = {customer}")
    entity = catalogue.entity("cash_receipt")
    with psycopg.connect(w.portal_dsn, autocommit=True) as portal:  # as if the customer were new to the portal
        portal.execute("delete from aspire.cash_receipt where receipt_oid = %s", (receipt,))
    run = run_id("full_sync")
    scoped = resolve(w.aspire_dsn, w.portal_dsn, FULL_SYNC, run, [customer])
    pause = Pause("before_commit")
    held = Background(
        load, w.aspire_dsn, w.portal_dsn, full_sync_request(entity, customer, run), scoped, checkpoint=pause
    )
    pause.wait(held)
    simulate.delete_receipt(w.aspire_dsn, receipt)
    before = versions(w)["cash_receipt"]
    racing = incremental(w.aspire_dsn, w.portal_dsn, deletes="change_tracking")
    assert racing["cash_receipt"].deletes_found_by == "change_tracking"
    assert versions(w)["cash_receipt"] == before  # a load of the entity was running: the version stays
    pause.resume()
    held.join()
    assert in_portal(w, "cash_receipt", receipt)  # the full sync wrote what it had read
    incremental(w.aspire_dsn, w.portal_dsn, deletes="change_tracking")
    assert not in_portal(w, "cash_receipt", receipt)
    assert versions(w)["cash_receipt"] > before
    in_step(w)


def test_a_first_load_starts_change_tracking_so_the_next_run_checks_no_key(world, fresh_database):
    """A first load copies straight into the empty table (no delete step): it keeps the Change Tracking version read
    before its copy, so the next run reads only what Change Tracking reports."""
    portal_dsn = fresh_database("deletes_portal_first")
    portal_app.create_portal_schema(portal_dsn)
    accounts = portal_app.enroll(portal_dsn, world.aspire_dsn, count=3, seed=31)
    with psycopg.connect(portal_dsn, autocommit=True) as portal:
        migrations.migrate(portal)
    first = incremental(world.aspire_dsn, portal_dsn, deletes="change_tracking")
    assert all(first[e].copied_directly for e in FIFTEEN)
    w = SimpleNamespace(aspire_dsn=world.aspire_dsn, portal_dsn=portal_dsn, accounts=accounts)
    assert set(versions(w)) == set(FIFTEEN)
    receipt = one(w, "select max(receiptoid) from dbo.cashreceipt where accountoid = any(%(a)s)")
    simulate.delete_receipt(world.aspire_dsn, receipt)
    second = incremental(world.aspire_dsn, portal_dsn, deletes="change_tracking")
    assert {second[e].deletes_found_by for e in FIFTEEN} == {"change_tracking"}
    assert not in_portal(w, "cash_receipt", receipt)
    in_step(w)


def test_a_key_check_that_keeps_a_newer_row_asks_again_next_run(world):
    """With Change Tracking falling back to a key check: a row a newer read wrote (above the held-back read bound)
    and then deleted is kept by the key check, so the version must not move past its delete: the next run checks
    every key again, once the held transaction ended, and the row goes."""
    w = world
    incremental(w.aspire_dsn, w.portal_dsn, deletes="change_tracking")
    with psycopg.connect(w.aspire_dsn) as aspire:
        receipt, customer = aspire.execute(
            "select receiptoid, accountoid from dbo.cashreceipt where accountoid = any(%s) order by 1 limit 1",
            (w.accounts,),
        ).fetchone()
    with psycopg.connect(w.portal_dsn, autocommit=True) as portal:  # as after a retention lapse
        portal.execute("delete from aspire_sync.change_tracking_version where entity = 'cash_receipt'")
    stranger = one(w, "select min(accountoid) from dbo.account where accountoid <> all(%(a)s)")
    held = psycopg.connect(w.aspire_dsn)
    try:
        held.execute("update dbo.account set phone = phone where accountoid = %s", (stranger,))
        with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
            aspire.execute("update dbo.cashreceipt set amount = amount where receiptoid = %s", (receipt,))
        customer_full_sync(w.aspire_dsn, w.portal_dsn, customer)  # writes it above the held-back bound
        simulate.delete_receipt(w.aspire_dsn, receipt)
        kept = incremental(w.aspire_dsn, w.portal_dsn, deletes="change_tracking")
        assert kept["cash_receipt"].deletes_found_by == "key_check"
        assert in_portal(w, "cash_receipt", receipt)  # above the read bound: kept for now
        assert "cash_receipt" not in versions(w)  # and the version did not move past its delete
    finally:
        held.rollback()
        held.close()
    incremental(w.aspire_dsn, w.portal_dsn, deletes="change_tracking")
    assert not in_portal(w, "cash_receipt", receipt)
    assert "cash_receipt" in versions(w)
    in_step(w)


def test_the_emulator_tracks_changes_as_sql_server_does(world):
    """One version per committed transaction, in commit order, never held back by a transaction still open; the net
    operation per key; the minimum valid version raised by the cleanup."""
    w = world
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        start = aspire.execute("select dbo.change_tracking_current_version()").fetchone()[0]
        contacts = [
            r[0]
            for r in aspire.execute(
                "select contactoid from dbo.accountcontact where accountoid = any(%s) order by 1 limit 2",
                (w.accounts,),
            )
        ]
        held = psycopg.connect(w.aspire_dsn)
        try:
            held.execute("update dbo.accountcontact set phone = phone where contactoid = %s", (contacts[0],))
            with aspire.transaction():  # deleted and written again in one transaction: not a delete
                row = aspire.execute(
                    "select * from dbo.accountcontact where contactoid = %s", (contacts[1],)
                ).fetchone()
                aspire.execute("delete from dbo.accountcontact where contactoid = %s", (contacts[1],))
                aspire.execute(
                    f"insert into dbo.accountcontact values ({', '.join(['%s'] * len(row))})",
                    row,
                )
                aspire.execute("update dbo.accountcontact set phone = phone where contactoid = %s", (contacts[1],))
            after = aspire.execute("select dbo.change_tracking_current_version()").fetchone()[0]
            assert after == start + 1  # committed, although another transaction began earlier and is still open
            changes = aspire.execute(
                "select pk, sys_change_version, sys_change_operation "
                "from dbo.changetable_changes('dbo.AccountContact', %s)",
                (start,),
            ).fetchall()
            assert changes == [(contacts[1], after, "U")]
        finally:
            held.commit()
            held.close()
        assert aspire.execute("select dbo.change_tracking_current_version()").fetchone()[0] == after + 1
        assert change_tracking.cleanup(w.aspire_dsn, 0) > 0
        assert (
            aspire.execute("select dbo.change_tracking_min_valid_version('dbo.AccountContact')").fetchone()[0]
            == after + 1
        )


def test_the_emulator_numbers_every_change_of_a_transaction_however_many(world):
    """A transaction's changes all take its one version, however many it logged; changes logged after its
    constraints were checked mid-transaction are numbered too, none left without a version."""
    w = world
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        start = aspire.execute("select dbo.change_tracking_current_version()").fetchone()[0]
        contacts = [r[0] for r in aspire.execute("select contactoid from dbo.accountcontact order by 1")]
        with aspire.transaction():
            aspire.execute("update dbo.accountcontact set phone = phone")
        changes = aspire.execute(
            "select pk, sys_change_version from dbo.changetable_changes('dbo.AccountContact', %s)", (start,)
        ).fetchall()
        assert sorted(pk for pk, _v in changes) == contacts and {v for _pk, v in changes} == {start + 1}
        with aspire.transaction():
            aspire.execute("update dbo.accountcontact set phone = phone where contactoid = %s", (contacts[0],))
            aspire.execute("set constraints all immediate")  # numbers what was logged so far
            aspire.execute("set constraints all deferred")
            aspire.execute("update dbo.accountcontact set phone = phone where contactoid = any(%s)", (contacts[1:3],))
        unnumbered = aspire.execute(
            "select count(*) from sys.change_tracking_log where sys_change_version is null"
        ).fetchone()[0]
        assert unnumbered == 0
        later = dict(
            aspire.execute(
                "select pk, sys_change_version from dbo.changetable_changes('dbo.AccountContact', %s)", (start + 1,)
            ).fetchall()
        )
        assert set(later) == set(contacts[:3])
