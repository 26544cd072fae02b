"""ASPIRE changes between a run's scope and its loads. A contract booked, or a role taken, after the scope was
resolved is the next run's; until then no freshness stamp claims it (an entity's `data_as_of`, a customer's full
sync's): the stamp is that of the earlier of the load's and the scope's read bounds. And a backfill's delete of rows
that left the scope does not take a row written after its extract, which ASPIRE's clock stamped inside its window,
for one that left."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import psycopg
import pytest

from aspire_emulator import portal as portal_app
from aspire_emulator import simulate
from aspire_portal import catalogue, model
from aspire_portal.load import load_entity
from aspire_portal.tasks import record_full_sync
from helpers import settle
from syncing import (
    FULL_SYNC,
    INCREMENTAL,
    PERMISSIVE,
    Background,
    Pause,
    full_sync_request,
    incremental,
    incremental_request,
    load,
    resolve,
    run_id,
    synced_world,
)

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def world(fresh_database):
    return synced_world(fresh_database, "scope_before_loads", seed=4242, enroll_seed=42, customers=6)


def changed_after_the_scope(aspire_dsn: str, change) -> datetime:
    """Runs `change` (an ASPIRE transaction) a moment after the caller resolved a scope; when it had committed."""
    time.sleep(0.05)
    change()
    committed = datetime.now(UTC)
    time.sleep(0.05)
    with psycopg.connect(aspire_dsn, autocommit=True) as aspire:
        settle(aspire)
    return committed


def stamp(portal_dsn: str, entity: str) -> datetime:
    with psycopg.connect(portal_dsn) as portal:
        return portal.execute("select data_as_of from aspire_sync.watermark where entity = %s", (entity,)).fetchone()[0]


def in_portal(portal_dsn: str, contract: int) -> bool:
    with psycopg.connect(portal_dsn) as portal:
        return (
            portal.execute("select 1 from aspire.contract where contract_oid = %s", (contract,)).fetchone() is not None
        )


def enrol_the_customer_of_an_unbooked_contract(w, *, newest: bool) -> tuple[int, int]:
    """(contract, customer): an uncommenced, unbooked contract (the oldest or the newest) of a customer not enrolled
    yet, whom the portal now enrols."""
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        contract, customer = aspire.execute(
            "select contractoid, customeraccountoid from dbo.contract where isbooked = 0 and status = 'UnCommenced' "
            f"and customeraccountoid <> all(%s) order by contractoid {'desc' if newest else 'asc'} limit 1",
            (portal_app.enrolled_accounts(w.portal_dsn),),
        ).fetchone()
    portal_app.enroll(w.portal_dsn, w.aspire_dsn, account_oid=customer)
    return contract, customer


def test_a_guarantor_added_after_the_scope_is_not_claimed_by_the_stamp(world):
    w = world
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        contract = aspire.execute(
            "select c.contractoid from dbo.contract as c where c.isbooked = 1 and not exists ("
            " select 1 from dbo.contractrole as r where r.contractoid = c.contractoid and r.accountoid = any(%s))"
            " order by c.contractoid limit 1",
            (w.accounts,),
        ).fetchone()[0]
        settle(aspire)
    run = run_id("incremental")
    resolved = resolve(w.aspire_dsn, w.portal_dsn, INCREMENTAL, run)
    committed = changed_after_the_scope(
        w.aspire_dsn, lambda: simulate.add_role(w.aspire_dsn, contract, w.accounts[0], "Guarantor")
    )

    for name in ("contract", "contract_role"):
        load(w.aspire_dsn, w.portal_dsn, incremental_request(catalogue.entity(name), run), resolved)

    assert not in_portal(w.portal_dsn, contract)  # the next run's: its scope was resolved before the role
    for name in ("contract", "contract_role"):
        assert stamp(w.portal_dsn, name) < committed, f"{name}'s data_as_of claims the Guarantor role"
    incremental(w.aspire_dsn, w.portal_dsn)
    assert in_portal(w.portal_dsn, contract)


def test_a_booking_after_the_scope_is_not_claimed_by_the_stamp_the_window_passed(world):
    w = world
    contract, _customer = enrol_the_customer_of_an_unbooked_contract(w, newest=False)
    incremental(w.aspire_dsn, w.portal_dsn)  # the customer enters the scope
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        settle(aspire)
    run = run_id("incremental")
    resolved = resolve(w.aspire_dsn, w.portal_dsn, INCREMENTAL, run)
    committed = changed_after_the_scope(w.aspire_dsn, lambda: simulate.book_contract(w.aspire_dsn, contract))

    load(w.aspire_dsn, w.portal_dsn, incremental_request(catalogue.entity("contract"), run), resolved)

    with psycopg.connect(w.aspire_dsn) as aspire:
        booked = aspire.execute("select rowver from dbo.contract where contractoid = %s", (contract,)).fetchone()[0]
    with psycopg.connect(w.portal_dsn) as portal:
        mark = portal.execute("select high_water_mark from aspire_sync.watermark where entity = 'contract'").fetchone()
    assert not in_portal(w.portal_dsn, contract) and mark[0] > booked  # the window passed it; the scope lacked it
    assert stamp(w.portal_dsn, "contract") < committed
    incremental(w.aspire_dsn, w.portal_dsn)  # an entry to the scope: read in full
    assert in_portal(w.portal_dsn, contract)


def test_a_customers_full_sync_stamp_does_not_claim_a_booking_after_its_scope(world):
    w = world
    contract, customer = enrol_the_customer_of_an_unbooked_contract(w, newest=True)
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        settle(aspire)
    run = run_id("full_sync")
    resolved = resolve(w.aspire_dsn, w.portal_dsn, FULL_SYNC, run, [customer])
    committed = changed_after_the_scope(w.aspire_dsn, lambda: simulate.book_contract(w.aspire_dsn, contract))

    for entity in catalogue.ENTITIES:
        load(w.aspire_dsn, w.portal_dsn, full_sync_request(entity, customer, run), resolved)

    with psycopg.connect(w.portal_dsn, autocommit=True) as portal:
        record_full_sync(portal, customer, FULL_SYNC, run)
        as_of = portal.execute(
            "select data_as_of from aspire_sync.customer_sync_status where account_oid = %s", (customer,)
        ).fetchone()[0]
    assert not in_portal(w.portal_dsn, contract)
    assert as_of is not None and as_of < committed


def test_a_backfill_keeps_a_row_written_into_its_window_after_its_extract(world):
    """A backfill of 06:00-06:15 UTC on 2026-11-01 reads ASPIRE local 01:00-01:15. An account updated during the
    repeated hour, at 01:05 CST, after the backfill's extract, has a LastModifiedAt in that window: it changed after
    the extract, it did not leave the scope."""
    w = world
    account = w.accounts[1]
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        settle(aspire)
    run = run_id("backfill")
    resolved = resolve(w.aspire_dsn, w.portal_dsn, INCREMENTAL, run)
    request = model.LoadRequest(
        catalogue.entity("account"),
        "backfill",
        modified_from=datetime(2026, 11, 1, 1, 0),
        modified_to=datetime(2026, 11, 1, 1, 15),
        run=model.RunContext(INCREMENTAL, run, "load_account"),
    )
    pause = Pause("merged")

    def backfill() -> model.LoadResult:
        with psycopg.connect(w.aspire_dsn) as source, psycopg.connect(w.portal_dsn, autocommit=True) as target:
            options = model.LoadOptions(guard=PERMISSIVE, checkpoint=pause)
            return load_entity(source, target, request, dialect="postgres", scope=resolved, options=options)

    job = Background(backfill)
    pause.wait(job)
    with psycopg.connect(w.aspire_dsn, autocommit=True) as writer:  # ASPIRE's writer, at 01:05 CST
        writer.execute("select set_config('aspire.now', %s, false)", ("2026-11-01T07:05:00+00:00",))
        writer.execute("update dbo.account set phone = '555-0199' where accountoid = %s", (account,))
    pause.resume()
    result = job.join()

    with psycopg.connect(w.portal_dsn) as portal:
        present = portal.execute("select 1 from aspire.account where account_oid = %s", (account,)).fetchone()
    assert present is not None, f"the backfill deleted account {account} (deleted {result.rows_deleted})"
