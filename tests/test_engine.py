"""The engine on its own (no Airflow): the first load of an empty table, and its race with another writer."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from projection import portal_rows, source_projection

from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, engine, migrations


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
        return engine.load_entity(source, target, engine.LoadRequest(catalogue.entity(name), "full"),
                                  dialect="postgres")


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
            "source_rowver) values (%s, 'X', 'Written meanwhile', true, 'Active', now(), %s)", (accounts[0], newer))
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
    assert conn.execute("select name, source_rowver from aspire.account where account_oid = %s",
                        (accounts[0],)).fetchone() == ("Written meanwhile", newer)
