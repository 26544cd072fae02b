"""Drift, measured: the daily refresh compares what it staged from ASPIRE with the portal before its merge
and again after it, stores both in aspire_sync.reconciliation, and fails, rolled back, when the portal still differs
after; `python -m aspire_portal reconcile` measures the same on demand. Emulator -> portal on a real PostgreSQL,
through the real DAGs (dag.test()).
"""

from __future__ import annotations

import json
from decimal import Decimal

import psycopg
import pytest

from aspire_emulator import generate
from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, columns, model, reconcile, staging
from aspire_portal.load import load_entity
from helpers import DAILY_DAG_ID, minimal_work_mem, run_cli, run_dag, settle, use_connections
from projection import assert_portal_equals_source

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def world(fresh_database, dagbag):
    aspire_dsn = fresh_database("reconcile_aspire")
    generate.create(aspire_dsn, size="small", seed=515)
    portal_dsn = fresh_database("reconcile_portal")
    portal_app.create_portal_schema(portal_dsn)
    minimal_work_mem(portal_dsn)
    portal_app.enroll(portal_dsn, aspire_dsn, count=25, seed=5)
    use_connections(aspire_dsn, portal_dsn)
    with psycopg.connect(aspire_dsn, autocommit=True) as aspire, psycopg.connect(portal_dsn, autocommit=True) as portal:
        settle(aspire)
        run_dag(dagbag)  # the incremental: every entity's watermark set, the portal filled
        run_dag(dagbag, DAILY_DAG_ID)
        yield aspire_dsn, portal_dsn, aspire, portal


@pytest.fixture(autouse=True)
def _connections(world):
    use_connections(world[0], world[1])


def measured(portal: psycopg.Connection, run_id: str, phase: str) -> dict[tuple, tuple]:
    """(entity, measure, account_oid, contract_oid) -> (aspire, portal, difference) of one run and phase."""
    rows = portal.execute(
        "select entity, measure, account_oid, contract_oid, aspire_value, portal_value, difference "
        "from aspire_sync.reconciliation where run_id = %s and phase = %s",
        (run_id, phase),
    ).fetchall()
    return {tuple(r[:4]): tuple(r[4:]) for r in rows}


def nonzero(measures: dict[tuple, tuple]) -> dict[tuple, tuple]:
    return {k: v for k, v in measures.items() if v[2] != 0}


def inject_drift(portal: psycopg.Connection) -> dict:
    """Drift the 15-minute path could have left: an invoice deleted from the portal, a receipt's amount changed,
    an amortization line's principal changed. Returns what was done, for the expected differences."""
    invoice = portal.execute(
        "select invoice_oid, account_oid, amount, balance from aspire.invoice order by invoice_oid limit 1"
    ).fetchone()
    portal.execute("delete from aspire.invoice where invoice_oid = %s", (invoice[0],))
    receipt = portal.execute(
        "select receipt_oid, account_oid from aspire.cash_receipt order by receipt_oid limit 1"
    ).fetchone()
    portal.execute("update aspire.cash_receipt set amount = amount + 100.25 where receipt_oid = %s", (receipt[0],))
    line = portal.execute("select contract_oid, line_no from aspire.amortization_line order by 1, 2 limit 1").fetchone()
    portal.execute(
        "update aspire.amortization_line set principal = principal - 7.5 where contract_oid = %s and line_no = %s", line
    )
    # an invoice the portal files under another customer: that customer sees someone else's invoice
    moved = portal.execute(
        "select invoice_oid, account_oid, amount from aspire.invoice where account_oid <> %s "
        "order by invoice_oid limit 1",
        (invoice[1],),
    ).fetchone()
    portal.execute("update aspire.invoice set account_oid = %s where invoice_oid = %s", (invoice[1], moved[0]))
    return {"invoice": invoice, "receipt": receipt, "line": line, "moved": moved}


def expect_injected(measures: dict[tuple, tuple], drift: dict) -> None:
    invoice_oid, account, amount, balance = drift["invoice"]
    assert measures[("invoice", "missing_keys", None, None)][2] == -1
    assert measures[("invoice", "changed_rows", None, None)][2] == 1  # the moved one
    moved_oid, owner, moved_amount = drift["moved"]
    assert measures[("invoice", "missing_keys", owner, None)][2] == -1  # its customer lacks it
    assert measures[("invoice", "extra_keys", account, None)][2] == 1  # the other one sees it
    assert measures[("invoice", "sum:amount", owner, None)][2] == -moved_amount
    assert measures[("invoice", "rows", None, None)][2] == -1
    assert measures[("invoice", "sum:amount", None, None)][2] == -amount
    assert measures[("invoice", "sum:balance", None, None)][2] == -balance
    assert measures[("invoice", "sum:amount", account, None)][2] == moved_amount - amount  # lost one, got another
    receipt_oid, receipt_account = drift["receipt"]
    assert measures[("cash_receipt", "changed_rows", None, None)][2] == 1
    assert measures[("cash_receipt", "sum:amount", None, None)][2] == Decimal("100.25")
    assert measures[("cash_receipt", "sum:amount", receipt_account, None)][2] == Decimal("100.25")
    contract, _line_no = drift["line"]
    assert measures[("amortization_line", "sum:principal", None, None)][2] == Decimal("-7.5")
    assert measures[("amortization_line", "sum:principal", None, contract)][2] == Decimal("-7.5")
    touched = {
        ("invoice", "missing_keys"),
        ("invoice", "rows"),
        ("invoice", "sum:amount"),
        ("invoice", "sum:balance"),
        ("invoice", "changed_rows"),
        ("cash_receipt", "changed_rows"),
        ("cash_receipt", "sum:amount"),
        ("amortization_line", "changed_rows"),
        ("amortization_line", "sum:principal"),
    }
    others = {k: v for k, v in nonzero(measures).items() if k[2] is None and k[3] is None and k[:2] not in touched}
    assert not others, f"drift measured where none was injected: {others}"


def test_the_daily_refresh_measures_injected_drift_and_leaves_none(dagbag, world):
    aspire_dsn, portal_dsn, aspire, portal = world
    quiet = run_dag(dagbag, DAILY_DAG_ID)
    assert not nonzero(measured(portal, quiet.run_id, "before")), "a portal in step with ASPIRE shows drift"
    drift = inject_drift(portal)

    run = run_dag(dagbag, DAILY_DAG_ID)

    before, after = measured(portal, run.run_id, "before"), measured(portal, run.run_id, "after")
    expect_injected(before, drift)
    assert {k[0] for k in after} == {e.name for e in catalogue.ENTITIES}  # every entity checked after its merge
    assert not nonzero(after)
    assert_portal_equals_source(aspire, portal, portal_app.enrolled_accounts(portal_dsn))


def test_changes_above_the_watermark_are_pending_not_drift(dagbag, world):
    aspire_dsn, portal_dsn, aspire, portal = world
    invoice = portal.execute("select invoice_oid from aspire.invoice order by invoice_oid desc limit 1").fetchone()[0]
    aspire.execute("update dbo.invoice set balance = balance - 1 where invoiceoid = %s", (invoice,))
    settle(aspire)

    run = run_dag(dagbag, DAILY_DAG_ID)  # no 15-minute run since the change: it is pending, not missed

    assert not nonzero(measured(portal, run.run_id, "before"))
    assert not nonzero(measured(portal, run.run_id, "after"))
    assert (
        portal.execute("select balance from aspire.invoice where invoice_oid = %s", (invoice,)).fetchone()[0]
        == aspire.execute("select balance from dbo.invoice where invoiceoid = %s", (invoice,)).fetchone()[0]
    )


def test_reconcile_on_demand_measures_the_same_and_writes_nothing_else(world):
    aspire_dsn, portal_dsn, aspire, portal = world
    drift = inject_drift(portal)
    portal_before = {
        e.name: portal.execute(f"select count(*), max(synced_at) from {e.target_table}").fetchone()
        for e in catalogue.ENTITIES
    }

    out = run_cli(aspire_dsn, portal_dsn, "reconcile", "--json")

    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert {r["entity"] for r in report["entities"]} == {e.name for e in catalogue.ENTITIES}
    invoice = next(r for r in report["entities"] if r["entity"] == "invoice")
    assert invoice["drift"] is True
    assert {m["measure"]: Decimal(m["difference"]) for m in invoice["totals"]}["sum:amount"] == -drift["invoice"][2]
    stored = measured(portal, report["run_id"], "on_demand")
    expect_injected(stored, drift)
    assert {
        e.name: portal.execute(f"select count(*), max(synced_at) from {e.target_table}").fetchone()
        for e in catalogue.ENTITIES
    } == portal_before  # measured, not repaired

    text = run_cli(aspire_dsn, portal_dsn, "reconcile", "--entity", "cash_receipt", "--check")
    assert text.returncode == 3, text.stderr  # --check: drift measured
    assert "Drift of cash_receipt now" in text.stdout and "sum:amount" in text.stdout and "100.25" in text.stdout


def invoice_refresh(world, run_id: str) -> model.LoadResult:
    """The daily refresh of invoices, as its task runs it."""
    aspire_dsn, portal_dsn, _aspire, _portal = world
    request = model.LoadRequest(
        entity=catalogue.entity("invoice"),
        kind="full",
        reconcile=True,
        run=model.RunContext("test_reconcile", run_id, "reconcile_invoice"),
    )
    with psycopg.connect(aspire_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        return load_entity(source, target, request, dialect="postgres")


def test_a_portal_row_newer_than_the_read_is_not_drift(world):
    _a, _p, aspire, portal = world
    # out of scope, at a row version above this read: the delete leaves it (a newer read wrote it); so must the check
    portal.execute(
        "insert into aspire.invoice select invoice_oid + 900000000, invoice_number, account_oid, "
        "contract_oid, invoice_date, due_date, amount, balance, status, last_modified_at, "
        "4611686018427387904, now() from aspire.invoice order by invoice_oid limit 1"
    )
    try:
        result = invoice_refresh(world, "newer_row")
        assert result.rows_deleted == 0
        assert not nonzero(measured(portal, "newer_row", "after"))
    finally:
        portal.execute("delete from aspire.invoice where invoice_oid > 900000000")


def test_drift_left_after_the_refresh_fails_it_but_keeps_its_repairs(world):
    aspire_dsn, portal_dsn, aspire, portal = world
    # something else writes the table: a trigger someone added changes every row the sync updates
    portal.execute(
        "create function aspire.test_nudge() returns trigger language plpgsql as "
        "$$ begin new.balance := new.balance + 0.01; return new; end $$"
    )
    portal.execute(
        "create trigger test_nudge before update on aspire.invoice for each row execute function aspire.test_nudge()"
    )
    changed = portal.execute("select min(invoice_oid) from aspire.invoice").fetchone()[0]
    try:
        portal.execute("update aspire.invoice set amount = amount + 1 where invoice_oid = %s", (changed,))
        with pytest.raises(reconcile.Drifted, match="changed_rows 1, sum:balance 0.01; the refresh itself was commit"):
            invoice_refresh(world, "foreign_writer")
    finally:
        portal.execute("drop trigger test_nudge on aspire.invoice")
        portal.execute("drop function aspire.test_nudge()")

    before, after = measured(portal, "foreign_writer", "before"), nonzero(measured(portal, "foreign_writer", "after"))
    assert before[("invoice", "changed_rows", None, None)][2] == 1
    assert before[("invoice", "sum:amount", None, None)][2] == 1
    assert after[("invoice", "changed_rows", None, None)][2] == 1
    assert after[("invoice", "sum:balance", None, None)][2] == Decimal("0.01")
    assert portal.execute("select status from aspire_sync.run_log where run_id = 'foreign_writer'").fetchone() == (
        "success",
    )  # the refresh committed: its repair stands
    assert (
        portal.execute("select amount from aspire.invoice where invoice_oid = %s", (changed,)).fetchone()[0]
        == aspire.execute("select amount from dbo.invoice where invoiceoid = %s", (changed,)).fetchone()[0]
    )
    invoice_refresh(world, "foreign_writer_gone")  # with the writer gone, the next refresh repairs and checks clean
    assert not nonzero(measured(portal, "foreign_writer_gone", "after"))


def test_a_refresh_that_writes_nothing_sums_its_check_after_in_the_scans_before(world, monkeypatch):
    """Nothing to repair: the comparison after the merge is not run again, and what it stores is what running it
    stores."""
    _a, _p, _aspire, portal = world
    invoice_refresh(world, "settled")  # whatever the tests before left to repair
    compared: list[str] = []
    compare = reconcile.compare
    monkeypatch.setattr(
        reconcile,
        "compare",
        lambda *a, **k: compared.append(k["phase"]) or compare(*a, **k),  # noqa: B023
    )
    result = invoice_refresh(world, "unwritten")
    assert (result.rows_inserted, result.rows_updated, result.rows_deleted) == (0, 0, 0)
    assert compared == ["before"]
    compared.clear()
    monkeypatch.setattr(reconcile, "_unwritten_after", lambda *_a: None)  # as before: the comparison after, run
    invoice_refresh(world, "unwritten_run")
    assert compared == ["before", "after"]
    shortcut, run = measured(portal, "unwritten", "after"), measured(portal, "unwritten_run", "after")
    assert shortcut == run and shortcut and not nonzero(shortcut)


@pytest.mark.parametrize("written", ["table", "stage"])
def test_once_the_transaction_wrote_the_check_after_runs_again(world, written):
    """The comparison before a merge offers the one after as it would be with nothing written: confirm() takes it
    while this transaction has written no row into the table or the stage since, and runs the comparison once it
    has (whatever wrote: here a plain update)."""
    _a, _p, _aspire, portal = world
    entity = catalogue.entity("invoice")
    run = model.RunContext("test_reconcile", f"wrote_{written}", "reconcile_invoice")
    with portal.transaction(force_rollback=True):
        described = columns.described(portal, entity)
        stage = staging.create_stage(portal, entity, described)
        names = names_of(described)
        quoted = ", ".join(f'"{n}"' for n in names)
        portal.execute(f"insert into {stage} ({quoted}) select {quoted} from {entity.target_table}")
        read_bound = portal.execute(f"select max(source_rowver) + 1 from {stage}").fetchone()[0]
        before = reconcile.compare(
            portal, entity, stage, names, phase="before", read_bound=read_bound, pending_from=None, unwritten=True
        )
        assert before.is_zero and before.unwritten_after is not None and before.unwritten_after.is_zero
        assert reconcile.confirm(portal, entity, stage, names, before, run) is before.unwritten_after
        table = stage if written == "stage" else entity.target_table
        portal.execute(f"update {table} set amount = amount + 1 where ctid = (select min(ctid) from {table})")
        after = reconcile.confirm(portal, entity, stage, names, before, run)
        assert {(m.measure, abs(m.difference)) for m in after.differing} == {("changed_rows", 1), ("sum:amount", 1)}


def test_a_trigger_that_writes_when_the_merge_wrote_nothing_fails_the_check_after(world):
    """A statement trigger fires on the merge's insert even when it inserts no row: what it writes in the load's
    transaction is seen by the check after, though the merge and the deletes counted nothing."""
    _a, _p, _aspire, portal = world
    invoice_refresh(world, "before_trigger")  # nothing left to repair: the merge will write nothing
    portal.execute(
        "create function aspire.test_statement_nudge() returns trigger language plpgsql as $$ begin "
        "update aspire.invoice set balance = balance + 0.01 "
        "where invoice_oid = (select min(invoice_oid) from aspire.invoice); return null; end $$"
    )
    portal.execute(
        "create trigger test_statement_nudge after insert on aspire.invoice "
        "for each statement execute function aspire.test_statement_nudge()"
    )
    try:
        with pytest.raises(reconcile.Drifted, match="changed_rows 1, sum:balance 0.01"):
            invoice_refresh(world, "statement_trigger")
    finally:
        portal.execute("drop trigger test_statement_nudge on aspire.invoice")
        portal.execute("drop function aspire.test_statement_nudge()")
    assert portal.execute(
        "select rows_inserted, rows_updated, rows_deleted from aspire_sync.run_log where run_id = 'statement_trigger'"
    ).fetchone() == (0, 0, 0)
    invoice_refresh(world, "statement_trigger_gone")  # the nudge repaired, and checked clean
    assert not nonzero(measured(portal, "statement_trigger_gone", "after"))


def test_scope_changes_since_the_last_run_are_pending_not_drift(dagbag, world):
    aspire_dsn, portal_dsn, aspire, portal = world
    run_dag(dagbag, DAILY_DAG_ID)  # repairs what the tests above left
    gone = portal_app.enrolled_accounts(portal_dsn)[0]
    portal_app.unenroll(portal_dsn, gone)
    (new,) = portal_app.enroll(portal_dsn, aspire_dsn, count=1, seed=99)

    run = run_dag(dagbag, DAILY_DAG_ID)  # no 15-minute run since: the exit and the entry are pending

    assert not nonzero(measured(portal, run.run_id, "before"))
    assert not nonzero(measured(portal, run.run_id, "after"))
    assert portal.execute("select count(*) from aspire.account where account_oid = %s", (gone,)).fetchone() == (0,)
    assert portal.execute("select count(*) from aspire.account where account_oid = %s", (new,)).fetchone() == (1,)


def names_of(described: list) -> list[str]:
    return [c.name for c in described]


def test_every_entity_s_stage_and_table_sum_the_same_when_they_hold_the_same_rows(world):
    """The comparison without a join works for the real tables: the stage a load makes (its integers widened to
    bigint, its numerics unbounded) and the portal table holding the same rows sum the same, for every entity; one
    value changed in the stage, and they do not."""
    _aspire_dsn, _portal_dsn, _aspire, portal = world
    checked = []
    for entity in catalogue.ENTITIES:
        with portal.transaction(force_rollback=True):
            described = columns.described(portal, entity)
            stage = staging.create_stage(portal, entity, described)
            names = ", ".join(f'"{c.name}"' for c in described)
            held = portal.execute(f"insert into {stage} ({names}) select {names} from {entity.target_table}").rowcount
            if not held:  # (line_of_credit: none in this small world)
                continue
            checked.append(entity.name)
            left_out = {"pending_from": None, "newer_from": None}
            differing, owners, null_owner, rows_alike, *_money = reconcile.summed(
                portal, entity, stage, names_of(described), **left_out
            )
            assert (differing, owners, null_owner, rows_alike) == (0, [], False, held), entity.name
            owner = portal.execute(
                f"update {stage} set source_rowver = source_rowver + 1 where ctid = (select min(ctid) from {stage}) "
                f"returning {entity.per or 'null'}"
            ).fetchone()[0]
            differing, owners, null_owner, *_rest = reconcile.summed(
                portal, entity, stage, names_of(described), **left_out
            )
            assert (differing, owners, null_owner) == (1, [] if owner is None else [owner], owner is None), entity.name
    assert len(checked) >= len(catalogue.ENTITIES) - 1, checked


def test_reconcile_is_only_for_a_full_load_over_everyone():
    with pytest.raises(ValueError, match="needs a full load over every enrolled customer, not a full load of some"):
        model.LoadRequest(entity=catalogue.entity("invoice"), kind="full", accounts=(1,), reconcile=True)
