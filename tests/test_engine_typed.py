"""The production row path: ASPIRE's values as Python objects (what pymssql hands the engine) land in the portal
exactly as the emulator's text pass-through lands them.

One emulator, two portals enrolling the same customers: every entity is loaded into one with the values passed
through as text, into the other as Python objects (binary COPY), and the two portals must agree row for row, on
every column but synced_at, after first loads (straight into the empty tables) and after a change (staging,
merge, the changed keys of the 15-minute loads).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, copystream, migrations, model
from aspire_portal import columns as portal_columns
from aspire_portal.load import load_entity
from projection import assert_portal_equals_source

NAME = "Ærø Bákery & Café — 東京支店 ✓"
STREET = "Line\twith a tab\nand a newline \\ and a backslash"


@pytest.fixture(scope="module")
def aspire(fresh_database):
    """An emulator of its own, with values that tell text and typed rows apart where they could differ."""
    from aspire_emulator import generate

    dsn = fresh_database("aspire_typed")
    generate.create(dsn, size="small", seed=7)
    return dsn


@pytest.fixture(scope="module")
def customers(aspire, fresh_database):
    """Five enrolled customers (one with a line of credit), and the rows of theirs the test sets to edge values
    (row-version trigger off, so the timestamps keep their milliseconds as written)."""
    probe = fresh_database("portal_typed_probe")
    portal_app.create_portal_schema(probe)
    accounts = portal_app.enroll(probe, aspire, count=4, seed=5)
    first = accounts[0]
    with psycopg.connect(aspire) as conn:
        accounts.append(
            conn.execute(
                "select min(accountoid) from dbo.lineofcredit where accountoid <> all(%s)", (accounts,)
            ).fetchone()[0]
        )
        conn.execute("set session_replication_role = replica")
        contract = conn.execute(
            "select c.contractoid from dbo.contract c join dbo.contractrole r on r.contractoid = c.contractoid "
            "where c.isbooked = 1 and r.roletype = 'Customer' and r.accountoid = %s order by 1 limit 1",
            (first,),
        ).fetchone()[0]
        conn.execute(
            "update dbo.account set name = %s, dbaname = null, addressline1 = %s, email = '', "
            "isbusiness = 0, lastmodifiedat = '2024-11-03 01:30:00.001' where accountoid = %s",
            (NAME, STREET, first),
        )
        conn.execute(
            "update dbo.accountcontact set firstname = 'Zoë', lastname = 'Ñúñez-Øster', phone = null "
            "where contactoid = (select min(contactoid) from dbo.accountcontact where accountoid = %s)",
            (first,),
        )
        conn.execute(
            "update dbo.contract set rate = 0.050000, residualamount = 0.00, paymentamount = 1200.50, "
            "terminationdate = null, lastmodifiedat = '2024-03-10 02:30:00.999' where contractoid = %s",
            (contract,),
        )
        conn.execute(
            "update dbo.invoice set amount = 9999999999999999.99, balance = -0.10, "
            "invoicedate = '1900-01-01', duedate = '9999-12-31', lastmodifiedat = '1999-12-31 23:59:59.990' "
            "where invoiceoid = (select min(invoiceoid) from dbo.invoice where accountoid = %s)",
            (first,),
        )
        conn.execute(
            "update dbo.equipment set quantity = 2147483647, modelyear = null, make = 'Škoda' "
            "where equipmentoid = (select min(equipmentoid) from dbo.equipment where contractoid = %s)",
            (contract,),
        )
    return accounts, contract


def portal(fresh_database, aspire, suffix, accounts):
    dsn = fresh_database(suffix)
    portal_app.create_portal_schema(dsn)
    for account in accounts:
        portal_app.enroll(dsn, aspire, account_oid=account)
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrations.migrate(conn)
    return dsn


def load_all(aspire, portal_dsn, *, typed, monkeypatch, caplog, kinds):
    """Loads every entity; asserts every COPY of the loads (rows, changed keys) took the format chosen for its rows."""
    options = model.LoadOptions(row_format="typed" if typed else "text")
    caplog.clear()
    with (
        caplog.at_level(logging.DEBUG, logger="aspire_portal.copystream"),
        psycopg.connect(aspire) as source,
        psycopg.connect(portal_dsn, autocommit=True) as target,
    ):
        for entity in catalogue.ENTITIES:
            load_entity(source, target, model.LoadRequest(entity, kinds(entity)), dialect="postgres", options=options)
    copies = [m.removeprefix("COPY into ").rsplit(": ", 1) for m in caplog.messages if m.startswith("COPY into ")]
    assert copies
    for table, copied_as in copies:  # typed: text only where the rows are mostly amounts (text_is_cheaper)
        amounts = any(name in table for name in ("amortization_line", "contract_values"))
        assert copied_as == ("binary" if typed and not amounts else "text"), table


def rows(conn, entity):
    """Every row of the entity's portal table, every column but synced_at, in key order."""
    columns = [c.name for c in portal_columns.described(conn, entity)]
    statement = sql.SQL("select {} from {} order by {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(entity.target_table),
        sql.SQL(", ").join(map(sql.Identifier, entity.key)),
    )
    return conn.execute(statement).fetchall()


def assert_same_portals(aspire, text_dsn, typed_dsn, accounts):
    with psycopg.connect(aspire) as source, psycopg.connect(text_dsn) as text, psycopg.connect(typed_dsn) as typed:
        for entity in catalogue.ENTITIES:
            expected, actual = rows(text, entity), rows(typed, entity)
            assert expected, f"{entity.name}: nothing loaded"
            different = [(a, b) for a, b in zip(expected, actual, strict=False) if a != b][:3]
            assert len(actual) == len(expected) and not different, f"{entity.name}: text vs typed {different}"
        assert_portal_equals_source(source, typed, accounts)


def test_typed_rows_land_exactly_as_text_rows(aspire, customers, fresh_database, monkeypatch, caplog):
    accounts, contract = customers
    text_dsn = portal(fresh_database, aspire, "portal_text", accounts)
    typed_dsn = portal(fresh_database, aspire, "portal_typed", accounts)

    def first_loads(entity):
        return "full"

    load_all(aspire, text_dsn, typed=False, monkeypatch=monkeypatch, caplog=caplog, kinds=first_loads)
    load_all(aspire, typed_dsn, typed=True, monkeypatch=monkeypatch, caplog=caplog, kinds=first_loads)
    assert_same_portals(aspire, text_dsn, typed_dsn, accounts)

    with psycopg.connect(typed_dsn) as conn:  # the edge values are there, as Python reads them back
        first = accounts[0]
        assert conn.execute(
            "select name, dba_name, address_line1, email, is_business, last_modified_at "
            "from aspire.account where account_oid = %s",
            (first,),
        ).fetchone() == (NAME, None, STREET, "", False, datetime(2024, 11, 3, 1, 30, 0, 1000))
        assert conn.execute(
            "select rate, residual_amount, payment_amount, termination_date, last_modified_at "
            "from aspire.contract where contract_oid = %s",
            (contract,),
        ).fetchone() == (
            Decimal("0.050000"),
            Decimal("0.00"),
            Decimal("1200.50"),
            None,
            datetime(2024, 3, 10, 2, 30, 0, 999000),
        )
        assert (
            str(conn.execute("select rate from aspire.contract where contract_oid = %s", (contract,)).fetchone()[0])
            == "0.050000"
        )  # trailing zeros kept
        assert conn.execute(
            "select amount, balance, invoice_date, due_date, last_modified_at from aspire.invoice "
            "where account_oid = %s order by invoice_oid limit 1",
            (first,),
        ).fetchone() == (
            Decimal("9999999999999999.99"),
            Decimal("-0.10"),
            date(1900, 1, 1),
            date(9999, 12, 31),
            datetime(1999, 12, 31, 23, 59, 59, 990000),
        )
        assert conn.execute(
            "select quantity, model_year, make from aspire.equipment where contract_oid = %s "
            "order by equipment_oid limit 1",
            (contract,),
        ).fetchone() == (2147483647, None, "Škoda")
        assert conn.execute(
            "select first_name, last_name from aspire.account_contact where account_oid = %s "
            "order by contact_oid limit 1",
            (first,),
        ).fetchone() == ("Zoë", "Ñúñez-Øster")

    with psycopg.connect(aspire) as conn:  # a change, as ASPIRE's users make it (the trigger stamps it)
        conn.execute(
            "update dbo.account set name = 'Ünïcödé Leasing GmbH', dbaname = 'Straße 7' where accountoid = %s",
            (accounts[1],),
        )
        conn.execute("update dbo.invoice set amount = 10.10, balance = 0 where accountoid = %s", (accounts[0],))
        conn.execute("update dbo.contractvalues set nextduedate = null where contractoid = %s", (contract,))
        conn.execute("update dbo.accountcontact set isprimary = 1 - isprimary where accountoid = %s", (accounts[0],))

    def after_the_change(entity):  # staging and merge; the 15-minute loads also stream the changed keys
        return "incremental" if entity.cadence == "15min" else "full"

    load_all(aspire, text_dsn, typed=False, monkeypatch=monkeypatch, caplog=caplog, kinds=after_the_change)
    load_all(aspire, typed_dsn, typed=True, monkeypatch=monkeypatch, caplog=caplog, kinds=after_the_change)
    assert_same_portals(aspire, text_dsn, typed_dsn, accounts)
    with psycopg.connect(typed_dsn) as conn:
        assert conn.execute(
            "select name, dba_name from aspire.account where account_oid = %s", (accounts[1],)
        ).fetchone() == ("Ünïcödé Leasing GmbH", "Straße 7")
        assert {
            row[0] for row in conn.execute("select amount from aspire.invoice where account_oid = %s", (accounts[0],))
        } == {Decimal("10.10")}


def test_a_value_of_another_python_type_goes_in_as_text_copy(fresh_database):
    """A source column whose Python type the binary dumper of its portal column does not take (a float for a
    numeric) makes that COPY text, which the portal converts; a column with only NULLs in the sample does not."""
    dsn = fresh_database("portal_typed_fallback")
    when = datetime(2026, 1, 2, 3, 4, 5)
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(
            "create temp table priced (id bigint, rate numeric(9, 6), code char(2), name varchar(20), at timestamp)"
        )
        names = ["id", "rate", "code", "name", "at"]
        fitting = (1, Decimal("0.050000"), "TX", "a", when)
        assert copystream.binary_copy_types(cursor, "priced", names, [fitting]) is not None
        assert copystream.binary_copy_types(
            cursor, "priced", names, [(1, None, None, "a", when), (2, None, "TX", "b", when)]
        )
        assert (
            copystream.binary_copy_types(
                cursor, "priced", names, [(1, None, "TX", "a", when), (2, 0.05, "TX", "b", when)]
            )
            is None
        )
        assert copystream.binary_copy_types(cursor, "priced", names, [(1, Decimal(1), "TX", 17, when)]) is None


def test_amounts_go_in_as_text_copy_where_binary_would_cost_more(fresh_database):
    """Binary COPY dumps a Decimal slower than text COPY formats it, and a date or timestamp far faster: a table of
    amounts (an amortization line's five) goes in as text, one of dates and keys as binary; both load the same."""
    dsn = fresh_database("portal_typed_format")
    line = (7, 3, date(2026, 2, 1), Decimal("812.50"), Decimal("700.00"), Decimal("112.50"), Decimal("0.00"))
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(
            "create temp table line (contract bigint, n integer, due date, payment numeric(18, 2),"
            " principal numeric(18, 2), interest numeric(18, 2), fee numeric(18, 2))"
        )
        cursor.execute("create temp table dated (id bigint, owner bigint, due date, paid date, amount numeric(18, 2))")
        names = ["contract", "n", "due", "payment", "principal", "interest", "fee"]
        assert copystream.binary_copy_types(cursor, "line", names, [line]) is None
        dated = (1, 2, date(2026, 2, 1), date(2026, 2, 3), Decimal("5.00"))
        assert copystream.binary_copy_types(cursor, "dated", ["id", "owner", "due", "paid", "amount"], [dated])
        with cursor.copy(f"copy line ({', '.join(names)}) from stdin") as copy:
            copy.write_row(line)
        assert cursor.execute("select * from line").fetchall() == [line]


def test_every_binary_copy_type_has_its_dump_costs():
    assert set(copystream.DUMP_MICROSECONDS) == set(copystream.BINARY_COPY_TAKES)


@pytest.mark.parametrize(("column_type", "value"), [("integer", 2**31), ("integer", -(2**31) - 1), ("smallint", 2**15)])
def test_binary_copy_refuses_an_integer_out_of_range(fresh_database, column_type, value):
    """psycopg's own binary int4/int2 dumpers keep the low bits of a value too large; a load must fail instead."""
    dsn = fresh_database("portal_typed_range")
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(f"create temp table counted (id bigint, n {column_type})")
        types = copystream.binary_copy_types(cursor, "counted", ["id", "n"], [(1, value)])
        with pytest.raises(psycopg.DataError, match=f"{value} does not fit a column of type {column_type}"):
            with cursor.copy("copy counted (id, n) from stdin (format binary)") as copy:
                copy.set_types(types)
                copy.write_row((1, value))
