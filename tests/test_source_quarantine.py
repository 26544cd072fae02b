"""One bad source row never stops an entity for everyone: a row ASPIRE hands over that the portal cannot take (a NULL
where the portal needs a value, a number beyond its column's precision or an integer beyond its range, a string
beyond its length) is kept in aspire_sync.source_quarantine, skipped, logged and mailed once; every other row loads
and the watermark moves; it is read again every run and loads on the first run after ASPIRE is fixed; `status` and
`explain` show it. Emulator -> portal on a real PostgreSQL. The emulator's columns are widened or made nullable
here to let ASPIRE hold what the portal's do not.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import psycopg
import pytest

from aspire_emulator import generate, simulate
from aspire_emulator import portal as portal_app
from aspire_portal import explain, status
from helpers import FROM, TO, Inbox, body, free_port, run_dag, settle, use_connections  # noqa: F401 - the SMTP server the alert tests use
from projection import assert_portal_equals_source
from syncing import customer_full_sync, daily_refresh, incremental

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@pytest.fixture
def mail(smtp_server, monkeypatch):
    inbox, port = smtp_server
    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"from_email": FROM, "disable_ssl": True, "disable_tls": True, "timeout": 10, "retry_limit": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(connection))
    monkeypatch.setenv("AIRFLOW_VAR_ASPIRE_PORTAL_ALERT_TO", ", ".join(TO))
    inbox.take()
    yield inbox


@pytest.fixture(scope="module")
def world(fresh_database, dagbag):
    aspire_dsn = fresh_database("quarantine_aspire")
    generate.create(aspire_dsn, size="small", seed=1717)
    portal_dsn = fresh_database("quarantine_portal")
    portal_app.create_portal_schema(portal_dsn)
    portal_app.enroll(portal_dsn, aspire_dsn, count=8, seed=17)
    use_connections(aspire_dsn, portal_dsn)
    with psycopg.connect(aspire_dsn, autocommit=True) as aspire, psycopg.connect(portal_dsn, autocommit=True) as portal:
        # ASPIRE holds what the portal's columns do not allow
        aspire.execute("alter table dbo.invoice alter column amount drop not null")
        aspire.execute("alter table dbo.account alter column name type varchar(400)")
        aspire.execute("alter table dbo.contract alter column paymentamount type numeric(30, 2)")
        aspire.execute("alter table dbo.contract alter column termmonths type bigint")
        aspire.execute("alter table dbo.equipment alter column description drop not null")
        w = SimpleNamespace(aspire_dsn=aspire_dsn, portal_dsn=portal_dsn, aspire=aspire, portal=portal)
        settle(aspire)
        run_dag(dagbag)
        yield w


@pytest.fixture(autouse=True)
def _connections(world):
    use_connections(world.aspire_dsn, world.portal_dsn)


def enrolled(w) -> list[int]:
    return portal_app.enrolled_accounts(w.portal_dsn)


def quarantined(portal: psycopg.Connection) -> dict[tuple[str, str], str]:
    rows = portal.execute("select entity, row_key::text, problems from aspire_sync.source_quarantine").fetchall()
    return {(entity, key): problems for entity, key, problems in rows}


def amount(portal: psycopg.Connection, invoice: int):
    row = portal.execute("select amount from aspire.invoice where invoice_oid = %s", (invoice,)).fetchone()
    return row[0] if row else None


def test_a_null_amount_quarantines_that_invoice_and_every_other_loads(dagbag, world, mail):
    """A NULL Amount on one invoice already in the portal and on one new invoice: the run succeeds, every other
    invoice of it lands, the watermark moves; the two are quarantined, listed by status, explained, mailed once; the
    portal keeps the version it had; once ASPIRE is fixed, the next run loads them and the quarantine is empty."""
    w = world
    customers = enrolled(w)
    old, changed = w.aspire.execute(
        "select invoiceoid from dbo.invoice where accountoid = any(%s) order by invoiceoid limit 2", (customers,)
    ).fetchall()
    contract = w.aspire.execute(
        "select contractoid from dbo.contract where isbooked = 1 and customeraccountoid = any(%s) order by 1 limit 1",
        (customers,),
    ).fetchone()[0]
    kept_amount = amount(w.portal, old[0])
    new = simulate.new_invoice(w.aspire_dsn, contract)["Invoice"][0]
    fresh = simulate.new_invoice(w.aspire_dsn, contract)["Invoice"][0]
    w.aspire.execute("update dbo.invoice set amount = null where invoiceoid = any(%s)", ([old[0], new],))
    w.aspire.execute("update dbo.invoice set balance = balance + 1 where invoiceoid = %s", (changed[0],))
    watermark = w.portal.execute(
        "select high_water_mark from aspire_sync.watermark where entity = 'invoice'"
    ).fetchone()
    settle(w.aspire)

    run = run_dag(dagbag)
    problems = quarantined(w.portal)
    assert problems == {
        ("invoice", json.dumps({"invoice_oid": old[0]})): "amount is NULL where the portal needs a value",
        ("invoice", json.dumps({"invoice_oid": new})): "amount is NULL where the portal needs a value",
    }
    assert amount(w.portal, fresh) is not None, "the run's other new invoice landed"
    balance = w.aspire.execute("select balance from dbo.invoice where invoiceoid = %s", (changed[0],)).fetchone()[0]
    assert (
        w.portal.execute("select balance from aspire.invoice where invoice_oid = %s", (changed[0],)).fetchone()[0]
        == balance
    )
    assert amount(w.portal, old[0]) == kept_amount, "the portal keeps the version it had"
    assert (
        amount(w.portal, new) is None
        and not w.portal.execute("select 1 from aspire.invoice where invoice_oid = %s", (new,)).fetchone()
    )
    assert (
        w.portal.execute("select high_water_mark from aspire_sync.watermark where entity = 'invoice'").fetchone()
        > watermark
    )
    invoice_load = w.portal.execute(
        "select status from aspire_sync.run_log where run_id = %s and entity = 'invoice'", (run.run_id,)
    ).fetchone()
    assert invoice_load == ("success",)
    report = status.status(w.portal)
    assert {q["row_key"] for q in report.quarantined_source_rows} == {key for _e, key in problems}
    assert "quarantined source rows (ASPIRE rows the portal cannot take): 2" in report.text()
    with psycopg.connect(w.aspire_dsn) as source:
        answer = explain.explain(source, w.portal, "postgres", "invoice", old[0])
    assert answer.reason == "source_row_quarantined" and "amount is NULL" in answer.next
    messages = mail.take()
    assert len(messages) == 1
    text = body(messages[0])
    assert "2 invoice row(s) from ASPIRE quarantined" in messages[0]["Subject"]
    assert f'{{"invoice_oid": {old[0]}}}: amount is NULL where the portal needs a value' in text

    settle(w.aspire)
    run_dag(dagbag)  # still bad: read again, still quarantined, not mailed again
    assert set(quarantined(w.portal)) == set(problems)
    assert w.portal.execute("select max(times_seen) from aspire_sync.source_quarantine").fetchone()[0] == 2
    assert mail.take() == []

    w.aspire.execute("update dbo.invoice set amount = balance where invoiceoid = any(%s)", ([old[0], new],))
    settle(w.aspire)
    run_dag(dagbag)
    assert quarantined(w.portal) == {}
    assert amount(w.portal, old[0]) is not None and amount(w.portal, new) is not None
    assert_portal_equals_source(w.aspire, w.portal, customers)


@pytest.mark.parametrize(
    "entity, table, key, column, bad, problem",
    [
        (
            "account",
            "account",
            "accountoid",
            "name",
            "repeat('x', 250)",
            "name is longer than the portal's 200 characters",
        ),
        (
            "contract",
            "contract",
            "contractoid",
            "paymentamount",
            "1e20",
            "payment_amount does not fit the portal's numeric(18,2)",
        ),
        (
            "contract",
            "contract",
            "contractoid",
            "termmonths",
            "3000000000",
            "term_months does not fit the portal's integer",
        ),
    ],
    ids=["too-long", "numeric-overflow", "integer-overflow"],
)
def test_each_kind_of_bad_value_is_quarantined_and_loads_once_fixed(world, entity, table, key, column, bad, problem):
    """A string beyond the portal's length, a number beyond its precision, an integer beyond its range: quarantined
    by the incremental, the rest of its load lands; fixed in ASPIRE, the next incremental loads it."""
    w = world
    customers = enrolled(w)
    owner, booked = ("accountoid", "true") if table == "account" else ("customeraccountoid", "isbooked = 1")
    oid, good = w.aspire.execute(
        f"select {key}, {column} from dbo.{table} where {owner} = any(%s) and {booked} order by {key} limit 1",
        (customers,),
    ).fetchone()
    other = w.aspire.execute(
        f"select {key} from dbo.{table} where {owner} = any(%s) and {booked} and {key} <> %s order by {key} limit 1",
        (customers, oid),
    ).fetchone()[0]
    w.aspire.execute(f"update dbo.{table} set {column} = {bad} where {key} = %s", (oid,))  # noqa: S608
    w.aspire.execute(f"update dbo.{table} set lastmodifiedat = lastmodifiedat where {key} = %s", (other,))  # noqa: S608
    settle(w.aspire)
    results = incremental(w.aspire_dsn, w.portal_dsn)
    assert results[entity].rows_read >= 2 and len(results[entity].quarantined) == 1
    target_key = f"{entity}_oid"
    assert quarantined(w.portal) == {(entity, json.dumps({target_key: oid})): problem}
    assert (
        w.portal.execute(
            f"select source_rowver from aspire.{entity} where {target_key} = %s",
            (other,),  # noqa: S608
        ).fetchone()[0]
        == w.aspire.execute(f"select rowver from dbo.{table} where {key} = %s", (other,)).fetchone()[0]
    )  # noqa: S608
    w.aspire.execute(f"update dbo.{table} set {column} = %s where {key} = %s", (good, oid))  # noqa: S608
    settle(w.aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    assert quarantined(w.portal) == {}
    assert_portal_equals_source(w.aspire, w.portal, customers)


def test_the_daily_refresh_quarantines_a_bad_row_and_reconciles_without_drift(world):
    """A NULL equipment description: the daily refresh writes every other row, quarantines that one, keeps the
    portal's version of it, and its after-check finds no drift; fixed, the 15-minute run's next load of equipment
    (its scope changes and its retries) brings it within 15 minutes, not the next day."""
    w = world
    customers = enrolled(w)
    equipment = w.aspire.execute(
        "select e.equipmentoid from dbo.equipment e join dbo.contract c on c.contractoid = e.contractoid "
        "where c.isbooked = 1 and c.customeraccountoid = any(%s) order by 1 limit 1",
        (customers,),
    ).fetchone()[0]
    w.aspire.execute("update dbo.equipment set description = null where equipmentoid = %s", (equipment,))
    settle(w.aspire)
    results = daily_refresh(w.aspire_dsn, w.portal_dsn)  # raises Drifted if the after-check were not zero
    assert [q.row_key for q in results["equipment"].quarantined] == [json.dumps({"equipment_oid": equipment})]
    assert w.portal.execute(
        "select description is not null from aspire.equipment where equipment_oid = %s", (equipment,)
    ).fetchone() == (True,)
    w.aspire.execute("update dbo.equipment set description = 'Fixed in ASPIRE' where equipmentoid = %s", (equipment,))
    settle(w.aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    assert quarantined(w.portal) == {}
    assert w.portal.execute(
        "select description from aspire.equipment where equipment_oid = %s", (equipment,)
    ).fetchone() == ("Fixed in ASPIRE",)


def test_a_text_longer_only_by_trailing_spaces_loads_as_stored_and_is_no_drift(world):
    """ASPIRE's Name is wider than the portal's varchar(200): a name of 230 characters, the last 30 of them spaces, is
    one the portal takes (PostgreSQL drops spaces beyond the length), not a bad row. The daily refresh compares what
    the portal stores of it, so it finds no drift and rewrites nothing, day after day; a name longer by anything
    else is still quarantined."""
    w = world
    account = enrolled(w)[0]
    w.aspire.execute("update dbo.account set name = rpad(name, 230) where accountoid = %s", (account,))
    settle(w.aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    stored = w.portal.execute("select name from aspire.account where account_oid = %s", (account,)).fetchone()[0]
    assert quarantined(w.portal) == {} and len(stored) == 200
    for _day in range(2):
        settle(w.aspire)
        results = daily_refresh(w.aspire_dsn, w.portal_dsn)  # raises Drifted if the after-check were not zero
        assert results["account"].rows_updated == 0
    before = w.portal.execute(
        "select count(*) from aspire_sync.reconciliation where entity = 'account' and phase = 'before' "
        "and difference <> 0 and checked_at > now() - interval '10 minutes'"
    ).fetchone()[0]
    assert before == 0
    w.aspire.execute("update dbo.account set name = rpad(name, 229) || 'x' where accountoid = %s", (account,))
    settle(w.aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    assert (
        "name is longer than the portal's 200 characters"
        in quarantined(w.portal)[("account", json.dumps({"account_oid": account}))]
    )
    w.aspire.execute("update dbo.account set name = 'Fixed Name LLC' where accountoid = %s", (account,))
    settle(w.aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    assert quarantined(w.portal) == {}


def test_a_bad_row_in_a_first_load_goes_through_a_stage_and_the_rest_loads(world, fresh_database):
    """The very first load of a new portal copies straight into the empty tables; a bad row makes it stage instead,
    so that row is quarantined and every other row loads."""
    w = world
    invoice = w.aspire.execute(
        "select invoiceoid from dbo.invoice where accountoid = any(%s) order by 1 limit 1", (enrolled(w),)
    ).fetchone()[0]
    w.aspire.execute("update dbo.invoice set amount = null where invoiceoid = %s", (invoice,))
    portal_dsn = fresh_database("quarantine_first_portal")
    portal_app.create_portal_schema(portal_dsn)
    with psycopg.connect(portal_dsn, autocommit=True) as portal:
        portal.execute(
            "insert into portal.portal_user (email) select 'u' || g || '@example.com' from generate_series(1, %s) g",
            (len(enrolled(w)),),
        )
        portal.execute(
            "insert into portal.portal_user_account (user_id, account_oid) "
            "select u.user_id, a.oid from (select user_id, row_number() over (order by user_id) as n "
            "from portal.portal_user) as u join (select oid, row_number() over (order by oid) as n "
            "from unnest(cast(%s as bigint[])) as oid) as a using (n)",
            (enrolled(w),),
        )
        settle(w.aspire)
        results = incremental(w.aspire_dsn, portal_dsn)
        assert not results["invoice"].copied_directly and len(results["invoice"].quarantined) == 1
        assert results["account"].copied_directly  # the others still copy straight in
        expected = w.aspire.execute(
            "select count(*) from dbo.invoice where accountoid = any(%(a)s) or contractoid in (select r.contractoid "
            "from dbo.contractrole r join dbo.contract c using (contractoid) where c.isbooked = 1 and r.roletype in "
            "('Customer', 'Guarantor') and r.accountoid = any(%(a)s))",
            {"a": enrolled(w)},
        ).fetchone()[0]
        assert portal.execute("select count(*) from aspire.invoice").fetchone()[0] == expected - 1
    w.aspire.execute("update dbo.invoice set amount = balance where invoiceoid = %s", (invoice,))
    settle(w.aspire)
    incremental(w.aspire_dsn, w.portal_dsn)  # the shared portal's own quarantine of it clears too
    assert quarantined(w.portal) == {}


def test_a_full_sync_of_another_customer_leaves_a_quarantined_row_quarantined(world):
    """A customer's full sync reads only that customer: a row of another customer quarantined and still bad stays
    quarantined (and keeps being retried by every incremental)."""
    w = world
    first, second = enrolled(w)[:2]
    invoice = w.aspire.execute(
        "select invoiceoid from dbo.invoice where accountoid = %s order by 1 limit 1", (first,)
    ).fetchone()[0]
    w.aspire.execute("update dbo.invoice set amount = null where invoiceoid = %s", (invoice,))
    settle(w.aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    key = ("invoice", json.dumps({"invoice_oid": invoice}))
    assert key in quarantined(w.portal)
    customer_full_sync(w.aspire_dsn, w.portal_dsn, second)
    assert key in quarantined(w.portal), "a full sync of another customer released it"
    settle(w.aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    assert key in quarantined(w.portal)
    w.aspire.execute("update dbo.invoice set amount = balance where invoiceoid = %s", (invoice,))
    settle(w.aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    assert quarantined(w.portal) == {}


def test_a_quarantined_row_that_moved_to_another_customer_leaves_the_old_one(world):
    """A contact moves from enrolled A to enrolled B and is bad: it is quarantined, and it is no longer shown under A
    (the portal never keeps a row under an owner it left); fixed, it loads under B."""
    w = world
    first, second = enrolled(w)[:2]
    w.aspire.execute("alter table dbo.accountcontact alter column firstname drop not null")
    contact = w.aspire.execute(
        "select contactoid from dbo.accountcontact where accountoid = %s order by 1 limit 1", (first,)
    ).fetchone()[0]
    assert w.portal.execute(
        "select account_oid from aspire.account_contact where contact_oid = %s", (contact,)
    ).fetchone() == (first,)
    w.aspire.execute(
        "update dbo.accountcontact set accountoid = %s, firstname = null where contactoid = %s", (second, contact)
    )
    settle(w.aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    assert ("account_contact", json.dumps({"contact_oid": contact})) in quarantined(w.portal)
    assert (
        w.portal.execute("select 1 from aspire.account_contact where contact_oid = %s", (contact,)).fetchone() is None
    )
    w.aspire.execute("update dbo.accountcontact set firstname = 'Moved' where contactoid = %s", (contact,))
    settle(w.aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    assert w.portal.execute(
        "select account_oid, first_name from aspire.account_contact where contact_oid = %s", (contact,)
    ).fetchone() == (second, "Moved")
    assert quarantined(w.portal) == {}


class NulInjectingSource:
    """ASPIRE as pymssql hands it over (typed values), with one string holding a NUL character, which SQL Server's
    nvarchar can hold and no PostgreSQL text can: a stand-in the emulator itself cannot be."""

    def __init__(self, connection: psycopg.Connection, column: str, key: str, oid: int) -> None:
        self.connection, self.column, self.key, self.oid = connection, column, key, oid

    def cursor(self, *args, **kwargs):
        return _NulCursor(self.connection.cursor(), self)

    def rollback(self) -> None:
        self.connection.rollback()


class _NulCursor:
    def __init__(self, cursor, source: NulInjectingSource) -> None:
        self.cursor, self.source = cursor, source

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.cursor.close()

    def execute(self, query, params=None):
        return self.cursor.execute(query, params)

    @property
    def description(self):
        return self.cursor.description

    def fetchone(self):
        return self.cursor.fetchone()

    def fetchall(self):
        return self.cursor.fetchall()

    def fetchmany(self, size):
        rows = self.cursor.fetchmany(size)
        names = [d[0] for d in self.cursor.description]
        if self.source.column not in names or self.source.key not in names:
            return rows
        i, k = names.index(self.source.column), names.index(self.source.key)
        return [
            tuple("Acme\x00Corp" if (j == i and row[k] == self.source.oid) else v for j, v in enumerate(row))
            for row in rows
        ]


@pytest.mark.parametrize("first_load", [False, True], ids=["incremental", "first-load"])
def test_a_value_copy_cannot_take_is_quarantined_and_the_rest_loads(world, fresh_database, first_load):
    """A NUL character in an account's name from a typed source (as pymssql hands SQL Server's nvarchar): COPY refuses
    it; the load extracts again with every row screened, quarantines that account, loads every other one."""
    from aspire_portal import catalogue, model
    from aspire_portal.load import load_entity
    from syncing import PERMISSIVE, incremental_request, resolve, run_id

    w = world
    customers = enrolled(w)
    portal_dsn = w.portal_dsn
    if first_load:
        portal_dsn = fresh_database("quarantine_nul_portal")
        portal_app.create_portal_schema(portal_dsn)
        for account in customers:
            portal_app.enroll(portal_dsn, w.aspire_dsn, account_oid=account)
    w.aspire.execute("update dbo.account set phone = phone where accountoid = any(%s)", (customers,))
    settle(w.aspire)
    run = run_id("nul")
    resolved = resolve(w.aspire_dsn, portal_dsn, "aspire_portal_incremental", run)
    with psycopg.connect(w.aspire_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        result = load_entity(
            NulInjectingSource(source, "name", "account_oid", customers[0]),
            target,
            incremental_request(catalogue.entity("account"), run),
            dialect="postgres",
            scope=resolved,
            options=model.LoadOptions(guard=PERMISSIVE),
        )
        assert [q.row_key for q in result.quarantined] == [json.dumps({"account_oid": customers[0]})]
        assert "name holds a NUL character" in result.quarantined[0].problems
        loaded = {r[0] for r in target.execute("select account_oid from aspire.account")}
        assert set(customers) - {customers[0]} <= loaded
        assert (customers[0] in loaded) is not first_load  # kept the version it had; none on a first load
    if not first_load:
        incremental(w.aspire_dsn, w.portal_dsn)  # the emulator's own name has no NUL: it loads and is released
        assert quarantined(w.portal) == {}
