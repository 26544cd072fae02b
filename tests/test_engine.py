"""The engine on its own (no Airflow): the first load of an empty table, and its race with another writer."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, migrations, model, sqlfiles
from aspire_portal.load import load_entity
from projection import portal_rows, source_projection


@pytest.fixture()
def portal(fresh_database, aspire_small):
    dsn = fresh_database("portal_engine")
    portal_app.create_portal_schema(dsn)
    accounts = portal_app.enroll(dsn, aspire_small, count=5, seed=3)
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrations.migrate(conn)
        yield dsn, conn, accounts


def load(aspire_dsn, portal_dsn, name):
    with psycopg.connect(aspire_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        return load_entity(source, target, model.LoadRequest(catalogue.entity(name), "full"), dialect="postgres")


def test_first_load_copies_straight_into_the_empty_table_then_merges(aspire_small, portal):
    dsn, conn, accounts = portal
    with psycopg.connect(aspire_small) as aspire:
        expected = source_projection(aspire, "invoice", accounts)
    first = load(aspire_small, dsn, "invoice")
    assert first.copied_directly and first.rows_inserted == first.rows_read == len(expected) > 0
    assert portal_rows(conn, "invoice") == expected
    again = load(aspire_small, dsn, "invoice")
    assert not again.copied_directly
    assert (again.rows_read, again.rows_inserted, again.rows_updated, again.rows_deleted) == (len(expected), 0, 0, 0)


def test_a_writer_that_commits_while_the_first_load_waits_turns_it_into_a_merge(aspire_small, portal):
    dsn, conn, accounts = portal
    newer = 10**15
    with psycopg.connect(dsn) as writer:
        writer.execute(  # an overlapping load already wrote a newer version of one of the customer's accounts
            "insert into aspire.account (account_oid, account_number, name, is_business, status, last_modified_at, "
            "source_rowver) values (%s, 'X', 'Written meanwhile', true, 'Active', now(), %s)",
            (accounts[0], newer),
        )
        results = []
        loader = threading.Thread(target=lambda: results.append(load(aspire_small, dsn, "account")))
        loader.start()
        time.sleep(1.0)
        assert loader.is_alive(), "the first load must wait for the writer's lock"
        writer.commit()
    loader.join(30)
    (result,) = results
    assert not result.copied_directly
    assert result.rows_inserted == len(accounts) - 1 and result.rows_updated == 0
    assert conn.execute(
        "select name, source_rowver from aspire.account where account_oid = %s", (accounts[0],)
    ).fetchone() == ("Written meanwhile", newer)


@pytest.fixture(scope="module")
def own_aspire(fresh_database):
    """An emulator these tests may change."""
    from aspire_emulator import generate

    dsn = fresh_database("aspire_engine")
    generate.create(dsn, size="small", seed=11)
    return dsn


def run(aspire_dsn, portal_dsn, name, kind, accounts=None):
    with psycopg.connect(aspire_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        request = model.LoadRequest(catalogue.entity(name), kind, accounts=accounts)
        return load_entity(source, target, request, dialect="postgres")


def test_a_load_for_customers_nobody_enrolled_fails_and_writes_nothing(aspire_small, portal):
    dsn, conn, accounts = portal
    stranger = max(accounts) + 1
    with pytest.raises(model.NotEnrolled, match=rf"customer\(s\) \[{stranger}\] are not enrolled in the portal"):
        run(aspire_small, dsn, "account", "full", accounts=(accounts[0], stranger))
    assert conn.execute("select count(*) from aspire.account").fetchone()[0] == 0
    assert conn.execute("select status from aspire_sync.run_log").fetchall() == [("failed",)]


def test_the_daily_full_load_waits_for_other_loads_of_the_entity(aspire_small, portal):
    dsn, _conn, _accounts = portal
    with psycopg.connect(dsn) as other:  # another load of `account` holds the entity's scope lock, shared
        other.execute(sqlfiles.read("turns/insert_sync_lock.sql"), {"entity": "account"})
        other.commit()
        other.execute(sqlfiles.render("turns/lock_entity_scope.sql", exclusive=False), {"entity": "account"})
        incremental = run(aspire_small, dsn, "account", "incremental")  # shared with it: runs alongside
        assert incremental.rows_read > 0
        done = []
        daily = threading.Thread(target=lambda: done.append(run(aspire_small, dsn, "account", "full")))
        daily.start()
        time.sleep(1.0)
        assert daily.is_alive(), "a full load of every customer must wait for the entity's other loads"
        other.commit()
    daily.join(30)
    assert done and done[0].rows_read == incremental.rows_read


def test_a_changed_invoice_brings_its_unchanged_details(own_aspire, fresh_database):
    portal_dsn = fresh_database("portal_engine_details")
    portal_app.create_portal_schema(portal_dsn)
    (customer,) = portal_app.enroll(portal_dsn, own_aspire, count=1, seed=1)
    with psycopg.connect(portal_dsn, autocommit=True) as conn:
        migrations.migrate(conn)
    assert run(own_aspire, portal_dsn, "invoice_detail", "incremental").rows_read > 0  # sets the watermark
    with psycopg.connect(own_aspire, autocommit=True) as aspire:
        invoice, details = aspire.execute(
            "select i.invoiceoid, count(*) from dbo.invoice i join dbo.invoicedetail d on d.invoiceoid = i.invoiceoid "
            "where i.accountoid = %s group by 1 order by 1 limit 1",
            (customer,),
        ).fetchone()
        aspire.execute("update dbo.invoice set status = status where invoiceoid = %s", (invoice,))
        deadline = time.monotonic() + 30  # the read bound passes the update once no older transaction is open
        while (
            aspire.execute(
                "select min_active_rowversion() <= (select rowver from dbo.invoice where invoiceoid = %s)", (invoice,)
            ).fetchone()[0]
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
    again = run(own_aspire, portal_dsn, "invoice_detail", "incremental")
    assert again.rows_read == details  # the details did not change, their invoice did


def test_a_customer_linked_again_after_its_full_sync_is_due_again(aspire_small, portal):
    from aspire_portal import tasks

    dsn, conn, accounts = portal
    assert sorted(tasks.claim_customers_without_full_sync(conn, max_triggers=100)) == sorted(accounts)
    conn.execute(
        "update aspire_sync.customer_sync_status set full_sync_completed_at = now(), "
        "full_sync_requested_at = now() - interval '2 hours'"
    )
    assert tasks.claim_customers_without_full_sync(conn, max_triggers=100) == []
    conn.execute(
        "update portal.portal_user_account set linked_at = now() + interval '1 second' where account_oid = %s",
        (accounts[0],),
    )  # un-enrolled and linked again since
    assert tasks.claim_customers_without_full_sync(conn, max_triggers=100) == [accounts[0]]
