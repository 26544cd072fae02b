"""A customer's full sync against what changed since the scope it builds on, and runs whose scopes are older or newer
than others' loads: a customer enrolled since the newest scope of everyone justifies rows as every enrolled customer
does (its contracts and the invoices billed to it stay); a full sync whose scope is older than a run's does not keep a
contract that run's newer scope lets go of; what another load's transaction took in, unseen by the scope a full sync
knows the others by, stays, whenever that transaction began; and what a full sync holds already is marked again by
its scope, so an older run keeps it."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest

from aspire_emulator import portal as portal_app
from aspire_portal import catalogue
from aspire_portal import scope as scope_module
from helpers import settle
from projection import assert_portal_equals_source
from syncing import (
    FULL_SYNC,
    INCREMENTAL,
    Background,
    Pause,
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


@contextmanager
def world(fresh_database, name: str, *, seed: int, enroll_seed: int):
    """A synced world of four enrolled customers, and a connection to its ASPIRE and one to its portal."""
    w = synced_world(fresh_database, name, seed=seed, enroll_seed=enroll_seed, customers=4)
    with (
        psycopg.connect(w.aspire_dsn, autocommit=True) as aspire,
        psycopg.connect(w.portal_dsn, autocommit=True) as portal,
    ):
        yield w, aspire, portal


def held(portal: psycopg.Connection, table: str, column: str, oid: int) -> int:
    return portal.execute(f"select count(*) from aspire.{table} where {column} = %s", (oid,)).fetchone()[0]  # noqa: S608


def test_a_contract_that_went_to_a_customer_enrolled_since_stays_through_the_old_holders_full_sync(fresh_database):
    with world(fresh_database, "newer_moved", seed=4242, enroll_seed=3) as (w, aspire, portal):
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
    with world(fresh_database, "newer_billed", seed=4243, enroll_seed=5) as (w, aspire, portal):
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
    with world(fresh_database, "older_full", seed=4244, enroll_seed=6) as (w, aspire, portal):
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


def unscoped_contract(aspire: psycopg.Connection, enrolled: list[int]) -> tuple[int, int]:
    """(customer role, contract): a booked contract on which no enrolled account holds any role."""
    return aspire.execute(
        """
        select r.contractroleoid, r.contractoid
        from dbo.contractrole as r join dbo.contract as c using (contractoid)
        where c.isbooked = 1 and r.roletype = 'Customer' and r.accountoid <> all(%s)
          and not exists (select 1 from dbo.contractrole as o
                          where o.contractoid = r.contractoid and o.accountoid = any(%s))
        order by 2 limit 1
        """,
        (enrolled, enrolled),
    ).fetchone()


@dataclass(frozen=True)
class InvoiceOnK:
    """Invoice I billed to enrolled X on contract K, which no enrolled account holds (the portal has I through X);
    Y another enrolled customer, Z an account never enrolled, `role` K's Customer role."""

    enrolled: list[int]
    x: int
    y: int
    z: int
    role: int
    k: int
    invoice: int


def invoice_of_x_on_an_unscoped_contract(w, aspire: psycopg.Connection, portal: psycopg.Connection) -> InvoiceOnK:
    enrolled = portal_app.enrolled_accounts(w.portal_dsn)
    x, y = enrolled[0], enrolled[1]
    role, k = unscoped_contract(aspire, enrolled)
    invoice = aspire.execute("select invoiceoid from dbo.invoice order by 1 limit 1").fetchone()[0]
    z = aspire.execute(
        "select accountoid from dbo.account where accountoid <> all(%s) order by 1 desc limit 1", (enrolled,)
    ).fetchone()[0]
    aspire.execute("update dbo.invoice set accountoid = %s, contractoid = %s where invoiceoid = %s", (x, k, invoice))
    settle(aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    assert held(portal, "invoice", "invoice_oid", invoice) == 1
    return InvoiceOnK(enrolled, x, y, z, role, k, invoice)


MOVE = "update dbo.contractrole set accountoid = %s where contractroleoid = %s"


def full_syncs_keep_the_invoice_once_it_goes_to_z(w, aspire, portal, case: InvoiceOnK, x_run, x_scope) -> None:
    """K is held; I is re-billed to Z, still on K (in scope through Y); X's full sync runs: I stays, and the next
    run leaves the portal equal to ASPIRE's scope."""
    assert held(portal, "contract", "contract_oid", case.k) == 1
    aspire.execute("update dbo.invoice set accountoid = %s where invoiceoid = %s", (case.z, case.invoice))
    settle(aspire)

    for entity in catalogue.ENTITIES:
        load(w.aspire_dsn, w.portal_dsn, full_sync_request(entity, case.x, x_run), x_scope)

    assert held(portal, "invoice", "invoice_oid", case.invoice) == 1, (
        f"invoice {case.invoice} (billed to {case.z}, on contract {case.k} of enrolled {case.y}) was deleted by X's "
        "full sync"
    )
    incremental(w.aspire_dsn, w.portal_dsn)
    assert_portal_equals_source(aspire, portal, case.enrolled)


def test_two_full_syncs_racing_keep_an_invoice_the_other_took_in(fresh_database):
    """Y's full sync resolves, then X's; Y's loads take in contract K (Y's since the newest scope of everyone);
    invoice I, billed to X on K, is re-billed to Z (never enrolled) and stays on K, in scope through Y. X's full sync
    knows the other customers as of that newest scope, which predates Y's take-in: I stays."""
    with world(fresh_database, "race_full", seed=4245, enroll_seed=7) as (w, aspire, portal):
        case = invoice_of_x_on_an_unscoped_contract(w, aspire, portal)
        aspire.execute(MOVE, (case.y, case.role))  # K becomes Y's (Y is in the newest scope of everyone, K is not)
        settle(aspire)
        y_run, x_run = run_id("full_sync"), run_id("full_sync")
        y_scope = resolve(w.aspire_dsn, w.portal_dsn, FULL_SYNC, y_run, [case.y])
        x_scope = resolve(w.aspire_dsn, w.portal_dsn, FULL_SYNC, x_run, [case.x])
        for entity in catalogue.ENTITIES:
            load(w.aspire_dsn, w.portal_dsn, full_sync_request(entity, case.y, y_run), y_scope)

        full_syncs_keep_the_invoice_once_it_goes_to_z(w, aspire, portal, case, x_run, x_scope)


def test_a_full_sync_resolved_while_a_run_resolves_keeps_an_invoice_that_run_took_in(fresh_database):
    """The 15-minute run R resolves and reads ASPIRE; X's full sync resolves meanwhile, on the scope before R's (R
    has not persisted yet); R persists and loads, taking in contract K (Y's since the scope before). Invoice I,
    billed to X on K, is re-billed to Z (never enrolled), still on K. R's take-in is dated before X's scope but after
    the scope X knows the others by: I stays."""
    with world(fresh_database, "race_run", seed=4246, enroll_seed=8) as (w, aspire, portal):
        case = invoice_of_x_on_an_unscoped_contract(w, aspire, portal)
        aspire.execute(MOVE, (case.y, case.role))
        settle(aspire)
        r_run, x_run = run_id("incremental"), run_id("full_sync")
        with psycopg.connect(w.aspire_dsn) as source:
            base = scope_module.latest(portal)
            r_unpersisted = scope_module.resolve(source, portal, "postgres", persist=False)  # R reads ASPIRE ...
            x_scope = resolve(w.aspire_dsn, w.portal_dsn, FULL_SYNC, x_run, [case.x])  # ... X's resolves meanwhile
            r_scope = scope_module.persist_scope(portal, r_unpersisted, base, INCREMENTAL, r_run, [])  # R persists
        assert x_scope.base_resolution_id == base.resolution_id
        for entity in catalogue.ENTITIES:
            load(w.aspire_dsn, w.portal_dsn, incremental_request(entity, r_run), r_scope)

        full_syncs_keep_the_invoice_once_it_goes_to_z(w, aspire, portal, case, x_run, x_scope)


def test_a_held_contract_a_newly_enrolled_guarantor_keeps_survives_the_run_that_predates_the_enrolment(
    fresh_database,
):
    """K: A (enrolled) is Customer, C (not enrolled) Guarantor; the entities hold K through A. A's role goes to Z.
    Run R resolves (K out: A lost it, C not enrolled). C enrols; C's full sync resolves and loads: K, held already,
    is dated again by C's scope. R's loads then run: K is in scope through C, as a scope newer than R's says."""
    with world(fresh_database, "held_guarantor", seed=4247, enroll_seed=9) as (w, aspire, portal):
        enrolled = portal_app.enrolled_accounts(w.portal_dsn)
        a = next(x for x in enrolled if only_customer_contract(aspire, x, enrolled))
        role, k = only_customer_contract(aspire, a, enrolled)
        c = unenrolled_customer(aspire, enrolled)
        z = aspire.execute(
            "select accountoid from dbo.account where accountoid <> all(%s) and accountoid <> %s "
            "order by 1 desc limit 1",
            (enrolled, c),
        ).fetchone()[0]
        aspire.execute(
            "insert into dbo.contractrole (contractroleoid, contractoid, accountoid, roletype, lastmodifiedat) "
            "select max(contractroleoid) + 1, %s, %s, 'Guarantor', now() from dbo.contractrole",
            (k, c),
        )
        settle(aspire)
        incremental(w.aspire_dsn, w.portal_dsn)
        assert held(portal, "contract", "contract_oid", k) == 1
        aspire.execute("update dbo.contractrole set accountoid = %s where contractroleoid = %s", (z, role))
        settle(aspire)
        r_run = run_id("incremental")
        r_scope = resolve(w.aspire_dsn, w.portal_dsn, INCREMENTAL, r_run)
        assert k not in r_scope.contracts
        portal_app.enroll(w.portal_dsn, w.aspire_dsn, account_oid=c)
        f_run = run_id("full_sync")
        f_scope = resolve(w.aspire_dsn, w.portal_dsn, FULL_SYNC, f_run, [c])
        for entity in catalogue.ENTITIES:
            load(w.aspire_dsn, w.portal_dsn, full_sync_request(entity, c, f_run), f_scope)
        assert held(portal, "contract", "contract_oid", k) == 1
        for entity in catalogue.ENTITIES:
            load(w.aspire_dsn, w.portal_dsn, incremental_request(entity, r_run), r_scope)

        assert held(portal, "contract", "contract_oid", k) == 1, f"contract {k} (guaranteed by enrolled {c}) is gone"


def test_a_take_in_by_a_scope_older_than_a_full_syncs_base_still_justifies(fresh_database):
    """Y's full sync resolves (K is Y's); K leaves Y; a run resolves and loads with K out (the base X's full sync
    will build on); K is Y's again; X's full sync resolves. Y's loads then take K in, dated by Y's scope, older than
    that base, but committed after it. Invoice I (billed to X on K) is re-billed to Z, still on K: in scope through
    Y. X's full sync knows the others as of its base, so what was committed after it stays: I stays."""
    with world(fresh_database, "older_taker", seed=4245, enroll_seed=7) as (w, aspire, portal):
        case = invoice_of_x_on_an_unscoped_contract(w, aspire, portal)
        aspire.execute(MOVE, (case.y, case.role))
        settle(aspire)
        y_run = run_id("full_sync")
        y_scope = resolve(w.aspire_dsn, w.portal_dsn, FULL_SYNC, y_run, [case.y])
        aspire.execute(MOVE, (case.z, case.role))
        settle(aspire)
        incremental(w.aspire_dsn, w.portal_dsn)
        aspire.execute(MOVE, (case.y, case.role))
        settle(aspire)
        x_run = run_id("full_sync")
        x_scope = resolve(w.aspire_dsn, w.portal_dsn, FULL_SYNC, x_run, [case.x])
        for entity in catalogue.ENTITIES:
            load(w.aspire_dsn, w.portal_dsn, full_sync_request(entity, case.y, y_run), y_scope)

        full_syncs_keep_the_invoice_once_it_goes_to_z(w, aspire, portal, case, x_run, x_scope)


def test_a_take_in_begun_before_a_full_syncs_base_and_committed_after_it_still_justifies(fresh_database):
    """As above, but Y's invoice load begins (and reads) before the run's scope, X's base, is resolved and commits
    after X's full sync resolved: what counts is whether X's base saw the transaction, not when it began."""
    with world(fresh_database, "begun_before", seed=4245, enroll_seed=7) as (w, aspire, portal):
        case = invoice_of_x_on_an_unscoped_contract(w, aspire, portal)
        aspire.execute(MOVE, (case.y, case.role))
        settle(aspire)
        y_run = run_id("full_sync")
        y_scope = resolve(w.aspire_dsn, w.portal_dsn, FULL_SYNC, y_run, [case.y])
        pause = Pause("before_commit")
        y_invoice = Background(
            load,
            w.aspire_dsn,
            w.portal_dsn,
            full_sync_request(catalogue.entity("invoice"), case.y, y_run),
            y_scope,
            checkpoint=pause,
        )
        pause.wait(y_invoice)
        aspire.execute(MOVE, (case.z, case.role))
        settle(aspire)
        resolve(w.aspire_dsn, w.portal_dsn, INCREMENTAL, run_id("incremental"))  # X's base: K out
        aspire.execute(MOVE, (case.y, case.role))
        settle(aspire)
        x_run = run_id("full_sync")
        x_scope = resolve(w.aspire_dsn, w.portal_dsn, FULL_SYNC, x_run, [case.x])
        pause.resume()
        y_invoice.join()
        for entity in catalogue.ENTITIES:
            if entity.name != "invoice":
                load(w.aspire_dsn, w.portal_dsn, full_sync_request(entity, case.y, y_run), y_scope)

        full_syncs_keep_the_invoice_once_it_goes_to_z(w, aspire, portal, case, x_run, x_scope)
