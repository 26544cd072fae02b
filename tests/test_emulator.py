"""The ASPIRE emulator against a real PostgreSQL: schema and row-version semantics, the seed's shape and
arithmetic, enrolment, and every simulator event."""

from __future__ import annotations

import random
import time
from datetime import date, datetime
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from aspire_emulator import portal, simulate
from aspire_emulator.catalog import COLUMNS
from aspire_emulator.cli import main as cli_main
from aspire_emulator.dsn import airflow_uri_to_conninfo
from aspire_emulator.finance import MONTHS_PER_PERIOD
from aspire_emulator.generate import SIZES, Portfolio, create
from aspire_emulator.portfolio import REFERENCE_DATE
from aspire_emulator.sqlfiles import statement

KEYS = {
    "Account": ("AccountOid",),
    "AccountContact": ("ContactOid",),
    "ContractScenario": ("ScenarioOid",),
    "LineOfCredit": ("LineOfCreditOid",),
    "Contract": ("ContractOid",),
    "ContractRole": ("ContractRoleOid",),
    "Invoice": ("InvoiceOid",),
    "InvoiceDetail": ("InvoiceDetailOid",),
    "CashReceipt": ("ReceiptOid",),
    "ContractValues": ("ContractOid",),
    "AmortizationLine": ("ContractOid", "LineNo"),
    "Equipment": ("EquipmentOid",),
}


@pytest.fixture(scope="module")
def activity_aspire(fresh_database):
    """A small ASPIRE the simulator tests may change."""
    dsn = fresh_database("emulator_activity")
    create(dsn, "small", 11)
    return dsn


def fetch(dsn: str, query: str | sql.Composable, params: dict | tuple | None = None) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def row_versions(dsn: str, table: str, keys: list) -> list[int | None]:
    """RowVer of each key of dbo.`table` (None where the row is gone)."""
    key_columns = KEYS[table]
    query = sql.SQL("select RowVer from dbo.{} where ({}) = ({})").format(
        sql.Identifier(table.lower()),
        sql.SQL(", ").join(sql.Identifier(c if c == "LineNo" else c.lower()) for c in key_columns),
        sql.SQL(", ").join(sql.Placeholder() * len(key_columns)),
    )
    with psycopg.connect(dsn) as conn:
        results = []
        for key in keys:
            row = conn.execute(query, key if isinstance(key, tuple) else (key,)).fetchone()
            results.append(row[0] if row else None)
        return results


def min_active(dsn: str) -> int:
    return fetch(dsn, "select dbo.min_active_rowversion()")[0][0]


def check(dsn: str, name: str) -> list[tuple]:
    return fetch(dsn, statement(f"check/{name}.sql"))


# --- schema and row-version semantics ---------------------------------------------------------------------


def test_every_table_exists_with_a_rowver_index(aspire_small):
    tables = {t for (t,) in fetch(aspire_small, "select tablename from pg_tables where schemaname = 'dbo'")}
    assert tables == {t.lower() for t in COLUMNS}
    indexed = {
        t
        for (t,) in fetch(
            aspire_small, "select tablename from pg_indexes where schemaname = 'dbo' and indexdef like '%%(rowver)'"
        )
    }
    assert indexed == tables


def test_rowver_is_the_writing_transaction_on_insert_and_update(activity_aspire):
    with psycopg.connect(activity_aspire) as conn:
        contract = conn.execute("select min(ContractOid) from dbo.Contract").fetchone()[0]
        account = conn.execute("select max(AccountOid) from dbo.Account").fetchone()[0]
        conn.execute("set aspire.now = '2026-03-08 08:30:00+00'")  # 03:30 CDT, an hour after the DST jump
        role = simulate.add_role(conn, contract, account, "Guarantor")["ContractRole"][0]
        simulate.edit_account(conn, account)
        xid = conn.execute("select pg_current_xact_id()::text::bigint").fetchone()[0]
        inserted = conn.execute(
            "select RowVer, LastModifiedAt from dbo.ContractRole where ContractRoleOid = %s", (role,)
        ).fetchone()
        updated = conn.execute(
            "select RowVer, LastModifiedAt from dbo.Account where AccountOid = %s", (account,)
        ).fetchone()
        conn.rollback()
    assert inserted == (xid, datetime(2026, 3, 8, 3, 30))
    assert updated == (xid, datetime(2026, 3, 8, 3, 30))


def test_min_active_rowversion_holds_back_for_an_open_transaction(activity_aspire):
    """A reader bounded by min_active_rowversion() cannot skip a row whose transaction commits late."""
    with psycopg.connect(activity_aspire) as t1, psycopg.connect(activity_aspire, autocommit=True) as reader:
        # T1 writes and stays open; T2 starts later, writes and commits.
        t1.execute(
            "update dbo.LineOfCredit set Status = Status where LineOfCreditOid = "
            "(select min(LineOfCreditOid) from dbo.LineOfCredit)"
        )
        t1_rowver = t1.execute("select pg_current_xact_id()::text::bigint").fetchone()[0]
        with psycopg.connect(activity_aspire) as t2:
            t2.execute(
                "update dbo.LineOfCredit set Status = Status where LineOfCreditOid = "
                "(select max(LineOfCreditOid) from dbo.LineOfCredit)"
            )
            t2_rowver = t2.execute("select pg_current_xact_id()::text::bigint").fetchone()[0]
        assert t2_rowver > t1_rowver
        bound = reader.execute("select dbo.min_active_rowversion()").fetchone()[0]
        assert bound <= t1_rowver < t2_rowver
        assert reader.execute("select public.min_active_rowversion()").fetchone()[0] == bound
        t1.commit()
        assert wait_for_bound_past(reader, t2_rowver)


def wait_for_bound_past(reader: psycopg.Connection, rowver: int, seconds: float = 10) -> bool:
    """Whether min_active_rowversion() moves past `rowver` in time. The bound is cluster-wide, so an unrelated
    transaction (autovacuum analysing a fresh database, another test run) may hold it back for a moment."""
    deadline = time.monotonic() + seconds
    while reader.execute("select dbo.min_active_rowversion()").fetchone()[0] <= rowver:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_openjson_lists_a_json_array(aspire_small):
    rows = fetch(
        aspire_small,
        "select AccountOid from dbo.Account "
        "where AccountOid in (select cast(value as int) from openjson(%(ids)s)) order by 1",
        {"ids": "[1000001, 1000003, 999]"},
    )
    assert rows == [(1000001,), (1000003,)]


# --- the seed -----------------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_business_data(aspire_small, fresh_database):
    again = fresh_database("emulator_again")
    create(again, "small", 42)
    assert dict(check(again, "select_business_checksum")) == dict(check(aspire_small, "select_business_checksum"))
    other = Portfolio(SIZES["small"], 43)
    assert [p.cost for p in other.plans] != [p.cost for p in Portfolio(SIZES["small"], 42).plans]


def test_schedules_balance_to_the_cent_and_operating_leases_have_none(aspire_small):
    assert check(aspire_small, "select_unbalanced_schedules") == []
    assert check(aspire_small, "select_unbalanced_invoices") == []
    assert check(aspire_small, "select_contract_rule_breaks") == []
    with_schedule = fetch(aspire_small, "select count(distinct ContractOid) from dbo.AmortizationLine")[0][0]
    assert with_schedule > 800


def test_the_seed_has_the_designed_shape(aspire_small):
    counts = dict(fetch(aspire_small, statement("select_table_counts.sql")))
    expected = {
        "Contract": 1_200,
        "Equipment": 2_500,
        "Invoice": 35_000,
        "AmortizationLine": 50_000,
        "CashReceipt": 35_000,
    }
    for table, target in expected.items():
        assert 0.8 * target <= counts[table] <= 1.25 * target, (table, counts[table])
    assert counts["Account"] >= 600
    shape = {
        metric: float(pct)
        for metric, pct in fetch(aspire_small, statement("check/select_portfolio_shape.sql"), {"as_of": REFERENCE_DATE})
    }
    designed = {
        "one_dollar_capital_lease": 40,
        "loan": 25,
        "fmv_operating_lease": 20,
        "fixed_purchase_option": 8,
        "trac": 7,
        "monthly": 92,
        "invoice_past_due": 4,
        "invoice_reversed": 1,
        "receipt_ach": 55,
        "receipt_check_or_lockbox": 35,
        "receipt_webeft": 7,
        "equipment_1_item": 60,
        "equipment_2_to_5_items": 30,
        "equipment_6_to_50_items": 10,
        "customer_with_line_of_credit": 5,
        "contract_with_guarantor": 20,
    }
    for metric, pct in designed.items():
        assert abs(shape[metric] - pct) <= max(4, pct / 4), (metric, shape[metric])
    assert shape["invoice_paid"] >= 85
    assert shape["term_36_or_60"] >= 50
    assert 1 <= shape["unbooked"] <= 8


# --- enrolment ----------------------------------------------------------------------------------------------


def test_enroll_rejects_bad_input_and_writes_nothing(aspire_small, portal_database):
    vendor = fetch(aspire_small, "select min(AccountOid) from dbo.Account where AccountNumber like 'V%%'")[0][0]
    bad = [
        ({"account_oid": 999}, "does not exist"),
        ({"account_oid": vendor}, "not a customer"),
        ({"count": 0}, "positive integer"),
        ({"count": -3}, "positive integer"),
        ({"account_oid": "1000001"}, "positive integer"),
        ({"count": 10_000}, "cannot enrol"),
        ({}, "exactly one"),
        ({"count": 1, "account_oid": 1000001}, "exactly one"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            portal.enroll(portal_database, aspire_small, **kwargs)
    assert fetch(portal_database, "select count(*) from portal.portal_user")[0][0] == 0
    assert portal.enrolled_accounts(portal_database) == []
    assert cli_main(["--aspire", aspire_small, "--portal", portal_database, "enroll", "--account", "999"]) == 2
    with pytest.raises(SystemExit):
        cli_main(["--aspire", aspire_small, "--portal", portal_database, "enroll", "--count", "0"])
    assert fetch(portal_database, "select count(*) from portal.portal_user")[0][0] == 0


def test_enroll_picks_booked_customers_deterministically(aspire_small, portal_database):
    chosen = portal.enroll(portal_database, aspire_small, count=5, seed=3)
    assert sorted(chosen) == portal.enrolled_accounts(portal_database)
    booked = fetch(
        aspire_small,
        "select count(distinct r.AccountOid) from dbo.ContractRole r "
        "join dbo.Contract c on c.ContractOid = r.ContractOid "
        "where r.RoleType = 'Customer' and c.IsBooked = 1 and r.AccountOid = any(%s)",
        (chosen,),
    )[0][0]
    assert booked == 5
    emails = fetch(portal_database, "select email from portal.portal_user order by user_id")
    assert len({e for (e,) in emails}) == 5 and all(e.endswith("@example.com") for (e,) in emails)
    more = portal.enroll(portal_database, aspire_small, count=3, seed=3)
    assert not set(more) & set(chosen)

    portal.enroll(portal_database, aspire_small, account_oid=chosen[0])  # a second user for the same customer
    assert portal.unenroll(portal_database, chosen[0]) == 2
    assert chosen[0] not in portal.enrolled_accounts(portal_database)
    assert fetch(portal_database, "select count(*) from portal.portal_user")[0][0] == 7
    for oid in portal.enrolled_accounts(portal_database):
        portal.unenroll(portal_database, oid)
    assert portal.enroll(portal_database, aspire_small, count=5, seed=3) == chosen


def test_airflow_connection_uris_become_libpq_conninfo():
    conninfo = airflow_uri_to_conninfo("postgres://sync:p%40ss@%2Ftmp%2Fpg:5433/aspire?sslmode=disable&x=1")
    assert psycopg.conninfo.conninfo_to_dict(conninfo) == {
        "host": "/tmp/pg",
        "port": "5433",
        "user": "sync",
        "password": "p@ss",
        "dbname": "aspire",
        "sslmode": "disable",
    }
    with pytest.raises(ValueError, match="postgres://"):
        airflow_uri_to_conninfo("mysql://u@h/db")


# --- the simulator ------------------------------------------------------------------------------------------


def assert_bumped(dsn: str, touched: dict, since: int) -> None:
    """Every touched row still there carries a row version newer than `since`."""
    for table, keys in touched.items():
        if not keys:
            continue
        versions = [v for v in row_versions(dsn, table, keys) if v is not None]
        assert versions and all(v >= since for v in versions), (table, keys, versions, since)


def money_of(dsn: str, query: str, key: int) -> tuple:
    return fetch(dsn, query, (key,))[0]


def test_billing_and_cash_events(activity_aspire):
    dsn = activity_aspire
    since = min_active(dsn)
    billed = simulate.new_invoice(dsn, rng=random.Random(1))
    assert_bumped(dsn, billed, since)
    invoice = billed["Invoice"][0]
    invoice_query = "select Status, Amount, Balance from dbo.Invoice where InvoiceOid = %s"
    status, amount, balance = money_of(dsn, invoice_query, invoice)
    assert (status, balance) == ("Open", amount)

    part = (amount / 3).quantize(Decimal("0.01"))
    paid = simulate.post_receipt(dsn, invoice, amount=part, method="WebEFT")
    assert_bumped(dsn, paid, since)
    assert money_of(dsn, invoice_query, invoice) == ("PartiallyPaid", amount, amount - part)
    receipt = paid["CashReceipt"][0]
    assert money_of(dsn, "select Status, Amount, Method from dbo.CashReceipt where ReceiptOid = %s", receipt) == (
        "Posted",
        part,
        "WebEFT",
    )

    rest = simulate.post_receipt(dsn, invoice)
    assert money_of(dsn, invoice_query, invoice) == ("Paid", amount, 0)
    since = min_active(dsn)
    reversed_ = simulate.reverse_receipt(dsn, rest["CashReceipt"][0])
    assert_bumped(dsn, reversed_, since)
    assert reversed_["Invoice"] == [invoice]
    assert money_of(dsn, invoice_query, invoice) == ("PartiallyPaid", amount, amount - part)
    with pytest.raises(ValueError, match="only posted receipts"):
        simulate.reverse_receipt(dsn, rest["CashReceipt"][0])

    with pytest.raises(ValueError, match="nothing paid"):
        simulate.reverse_invoice(dsn, invoice)
    fresh = simulate.new_invoice(dsn, rng=random.Random(2))["Invoice"][0]
    since = min_active(dsn)
    undone = simulate.reverse_invoice(dsn, fresh)
    assert_bumped(dsn, undone, since)
    assert money_of(dsn, invoice_query, fresh)[::2] == ("Reversed", 0)
    assert check(dsn, "select_unbalanced_invoices") == []


def test_contract_events(activity_aspire):
    dsn = activity_aspire
    since = min_active(dsn)
    booked = simulate.book_contract(dsn, rng=random.Random(3))
    assert_bumped(dsn, booked, since)
    contract = booked["Contract"][0]
    assert money_of(
        dsn, "select Status, IsBooked, BookedDate = CommencementDate from dbo.Contract where ContractOid = %s", contract
    ) == ("Commenced", 1, True)
    assert fetch(dsn, "select count(*) from dbo.Equipment where ContractOid = %s", (contract,))[0][0] > 0

    since = min_active(dsn)
    restructured = simulate.restructure(dsn, rng=random.Random(4))
    assert_bumped(dsn, restructured, since)
    target = restructured["Contract"][0]
    schedule = (
        "select TermMonths, PaymentFrequency, (select count(*) from dbo.AmortizationLine a "
        "where a.ContractOid = c.ContractOid) from dbo.Contract c where ContractOid = %s"
    )
    term, frequency, lines = fetch(dsn, schedule, (target,))[0]
    assert lines == term // MONTHS_PER_PERIOD[frequency]
    longer = simulate.restructure(dsn, target, term_months=term + 12)
    assert_bumped(dsn, longer, since)
    assert fetch(dsn, schedule, (target,))[0][2] == (term + 12) // MONTHS_PER_PERIOD[frequency]
    back = simulate.restructure(dsn, target, term_months=term)
    assert None in row_versions(dsn, "AmortizationLine", back["AmortizationLine"])
    assert fetch(dsn, schedule, (target,))[0] == (term, frequency, lines)

    since = min_active(dsn)
    ended = simulate.terminate_contract(dsn, target)
    assert_bumped(dsn, ended, since)
    assert money_of(dsn, "select Status, IsBooked from dbo.Contract where ContractOid = %s", target) == (
        "Terminated",
        1,
    )
    assert money_of(
        dsn, "select PrincipalBalance, RemainingPayments from dbo.ContractValues where ContractOid = %s", target
    ) == (0, 0)
    with pytest.raises(ValueError, match="only booked, commenced"):
        simulate.terminate_contract(dsn, target)

    account = fetch(dsn, "select max(AccountOid) from dbo.Account")[0][0]
    since = min_active(dsn)
    role = simulate.add_role(dsn, contract, account, "Guarantor")
    assert_bumped(dsn, role, since)
    simulate.remove_role(dsn, role["ContractRole"][0])
    assert row_versions(dsn, "ContractRole", role["ContractRole"]) == [None]
    customer_role = fetch(
        dsn,
        "select ContractRoleOid from dbo.ContractRole where ContractOid = %s and RoleType = 'Customer'",
        (contract,),
    )[0][0]
    with pytest.raises(ValueError, match="Customer role"):
        simulate.remove_role(dsn, customer_role)
    with pytest.raises(ValueError, match="role_type"):
        simulate.add_role(dsn, contract, account, "Owner")
    assert check(dsn, "select_unbalanced_schedules") == []
    assert check(dsn, "select_contract_rule_breaks") == []


def test_account_events(activity_aspire):
    dsn = activity_aspire
    since = min_active(dsn)
    for event in (simulate.edit_account, simulate.edit_contact, simulate.change_credit_usage):
        assert_bumped(dsn, event(dsn, rng=random.Random(5)), since)
    line = simulate.change_credit_usage(dsn, delta=Decimal("-1e9"))["LineOfCredit"][0]
    assert money_of(
        dsn,
        "select UsedAmount, AvailableAmount = ApprovedAmount from dbo.LineOfCredit where LineOfCreditOid = %s",
        line,
    ) == (0, True)
    gone = simulate.delete_contact(dsn, rng=random.Random(6))
    assert row_versions(dsn, "AccountContact", gone["AccountContact"]) == [None]
    with pytest.raises(ValueError, match="does not exist"):
        simulate.edit_account(dsn, 999)


def test_new_customer_can_be_enrolled(activity_aspire, portal_database):
    since = min_active(activity_aspire)
    account = simulate.new_customer(activity_aspire, rng=random.Random(7))
    assert_bumped(activity_aspire, {"Account": [account]}, since)
    invoices, receipts = fetch(
        activity_aspire,
        "select (select count(*) from dbo.Invoice where AccountOid = %(a)s), "
        "(select count(*) from dbo.CashReceipt where AccountOid = %(a)s)",
        {"a": account},
    )[0]
    assert invoices > 0 and receipts > 0
    assert portal.enroll(portal_database, activity_aspire, account_oid=account) == [account]
    assert check(activity_aspire, "select_contract_rule_breaks") == []


def test_simulate_runs_a_mix_and_keeps_the_books_balanced(activity_aspire):
    since = min_active(activity_aspire)
    counts = simulate.simulate(activity_aspire, events=150, seed=1)
    assert sum(counts.values()) == 150 and counts["post_receipt"] > 20
    changed = fetch(activity_aspire, "select count(*) from dbo.Invoice where RowVer >= %s", (since,))[0][0]
    assert changed > 20
    for name in ("select_unbalanced_schedules", "select_unbalanced_invoices", "select_contract_rule_breaks"):
        assert check(activity_aspire, name) == [], name
    with pytest.raises(ValueError, match="positive integer"):
        simulate.simulate(activity_aspire, events=0)


def test_the_seed_is_dated_from_the_reference_date(aspire_small):
    latest = fetch(aspire_small, "select max(InvoiceDate) from dbo.Invoice")[0][0]
    assert latest <= REFERENCE_DATE and latest >= date(2026, 10, 1)
