"""A customer's full sync against what changed since the scope it builds on: a customer enrolled since the newest
scope of everyone justifies rows as every enrolled customer does (its contracts and the invoices billed to it stay),
and a full sync whose scope is older than a run's does not keep a contract that run's newer scope lets go of."""

from __future__ import annotations

import psycopg
import pytest

from aspire_emulator import portal as portal_app
from aspire_portal import catalogue
from helpers import settle
from projection import assert_portal_equals_source
from syncing import (
    FULL_SYNC,
    INCREMENTAL,
    customer_full_sync,
    full_sync_request,
    incremental,
    incremental_request,
    load,
    resolve,
    run_id,
    synced_world,
)

pytestmark = pytest.mark.timeout(600)


def only_customer_contract(aspire: psycopg.Connection, account: int, enrolled: list[int]) -> tuple[int, int] | None:
    """(role, contract): a booked contract on which `account` is Customer and no other enrolled account holds a
    Customer or Guarantor role."""
    return aspire.execute(
        """
        select r.contractroleoid, r.contractoid
        from dbo.contractrole as r join dbo.contract as c using (contractoid)
        where c.isbooked = 1 and r.roletype = 'Customer' and r.accountoid = %s
          and not exists (
              select 1 from dbo.contractrole as o
              where o.contractoid = r.contractoid and o.roletype in ('Customer', 'Guarantor')
                and o.accountoid = any(%s) and o.contractroleoid <> r.contractroleoid)
        order by 1 limit 1
        """,
        (account, [a for a in enrolled if a != account]),
    ).fetchone()


def unenrolled_customer(aspire: psycopg.Connection, enrolled: list[int], *, last: bool = False) -> int:
    return aspire.execute(
        "select accountoid from dbo.contractrole where roletype = 'Customer' and accountoid <> all(%s) "
        f"order by accountoid {'desc' if last else 'asc'} limit 1",
        (enrolled,),
    ).fetchone()[0]


def held(portal: psycopg.Connection, table: str, column: str, oid: int) -> int:
    return portal.execute(f"select count(*) from aspire.{table} where {column} = %s", (oid,)).fetchone()[0]  # noqa: S608


def test_a_contract_that_went_to_a_customer_enrolled_since_stays_through_the_old_holders_full_sync(fresh_database):
    w = synced_world(fresh_database, "newer_moved", seed=4242, enroll_seed=3, customers=4)
    with (
        psycopg.connect(w.aspire_dsn, autocommit=True) as aspire,
        psycopg.connect(w.portal_dsn, autocommit=True) as portal,
    ):
        enrolled = portal_app.enrolled_accounts(w.portal_dsn)
        x = next(a for a in enrolled if only_customer_contract(aspire, a, enrolled))
        role, contract = only_customer_contract(aspire, x, enrolled)
        b = portal_app.enroll(w.portal_dsn, w.aspire_dsn, count=1, seed=99)[0]  # after the newest scope of everyone
        aspire.execute("update dbo.contractrole set accountoid = %s where contractroleoid = %s", (b, role))
        settle(aspire)
        customer_full_sync(w.aspire_dsn, w.portal_dsn, b)
        now = portal_app.enrolled_accounts(w.portal_dsn)
        assert_portal_equals_source(aspire, portal, now)
        assert held(portal, "contract", "contract_oid", contract) == 1

        customer_full_sync(w.aspire_dsn, w.portal_dsn, x)  # X's, before any 15-minute run: C is B's now

        assert held(portal, "contract", "contract_oid", contract) == 1
        assert_portal_equals_source(aspire, portal, now)


def test_an_invoice_billed_to_a_customer_enrolled_since_stays_when_its_contract_leaves(fresh_database):
    w = synced_world(fresh_database, "newer_billed", seed=4243, enroll_seed=5, customers=4)
    with (
        psycopg.connect(w.aspire_dsn, autocommit=True) as aspire,
        psycopg.connect(w.portal_dsn, autocommit=True) as portal,
    ):
        enrolled = portal_app.enrolled_accounts(w.portal_dsn)
        x, (role, contract), invoice = next(
            (a, found, row[0])
            for a in enrolled
            if (found := only_customer_contract(aspire, a, enrolled))
            and (
                row := aspire.execute(
                    "select invoiceoid from dbo.invoice where contractoid = %s order by 1 limit 1", (found[1],)
                ).fetchone()
            )
        )
        b = unenrolled_customer(aspire, enrolled)
        z = aspire.execute(
            "select accountoid from dbo.account where accountoid <> all(%s) and accountoid <> %s "
            "order by 1 desc limit 1",
            (enrolled, b),
        ).fetchone()[0]
        # the invoice on X's contract is billed to B, not enrolled yet: the portal has it through X's contract
        aspire.execute("update dbo.invoice set accountoid = %s where invoiceoid = %s", (b, invoice))
        settle(aspire)
        incremental(w.aspire_dsn, w.portal_dsn)
        portal_app.enroll(w.portal_dsn, w.aspire_dsn, account_oid=b)  # after the newest scope of everyone
        customer_full_sync(w.aspire_dsn, w.portal_dsn, b)
        now = portal_app.enrolled_accounts(w.portal_dsn)
        assert_portal_equals_source(aspire, portal, now)
        # X's contract goes to Z, never enrolled; X's full sync runs before the next 15-minute run
        aspire.execute("update dbo.contractrole set accountoid = %s where contractroleoid = %s", (z, role))
        settle(aspire)

        customer_full_sync(w.aspire_dsn, w.portal_dsn, x)

        assert held(portal, "invoice", "invoice_oid", invoice) == 1, f"invoice {invoice}, billed to {b}, is gone"
        assert held(portal, "contract", "contract_oid", contract) == 0  # Z's now: out of scope
        incremental(w.aspire_dsn, w.portal_dsn)
        assert_portal_equals_source(aspire, portal, now)


def test_a_full_sync_older_than_a_runs_scope_does_not_keep_what_that_scope_lets_go(fresh_database):
    """X's full sync resolves its scope (C is X's); C goes to an account never enrolled; a 15-minute run removes C;
    the next run resolves its scope; X's full-sync loads commit (taking C in by their older scope); then that run's
    loads run: C goes, as its newer scope says, not one run later."""
    w = synced_world(fresh_database, "older_full", seed=4244, enroll_seed=6, customers=4)
    with (
        psycopg.connect(w.aspire_dsn, autocommit=True) as aspire,
        psycopg.connect(w.portal_dsn, autocommit=True) as portal,
    ):
        enrolled = portal_app.enrolled_accounts(w.portal_dsn)
        x = next(a for a in enrolled if only_customer_contract(aspire, a, enrolled))
        role, contract = only_customer_contract(aspire, x, enrolled)
        z = aspire.execute(
            "select accountoid from dbo.account where accountoid <> all(%s) order by 1 desc limit 1", (enrolled,)
        ).fetchone()[0]
        full_run = run_id("full_sync")
        older = resolve(w.aspire_dsn, w.portal_dsn, FULL_SYNC, full_run, [x])
        aspire.execute("update dbo.contractrole set accountoid = %s where contractroleoid = %s", (z, role))
        settle(aspire)
        incremental(w.aspire_dsn, w.portal_dsn)
        assert held(portal, "contract", "contract_oid", contract) == 0
        next_run = run_id("incremental")
        newer = resolve(w.aspire_dsn, w.portal_dsn, INCREMENTAL, next_run)
        for entity in catalogue.ENTITIES:
            load(w.aspire_dsn, w.portal_dsn, full_sync_request(entity, x, full_run), older)
        assert held(portal, "contract", "contract_oid", contract) == 1  # the older scope's view, for now

        for entity in catalogue.ENTITIES:
            load(w.aspire_dsn, w.portal_dsn, incremental_request(entity, next_run), newer)

        assert held(portal, "contract", "contract_oid", contract) == 0
        assert_portal_equals_source(aspire, portal, enrolled)
