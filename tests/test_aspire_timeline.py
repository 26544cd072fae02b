"""ASPIRE going back in time (a restore from a backup, a failover to a replica that lagged): the emulator restores
like SQL Server (its rows, a new recovery fork, the row-version counter set back), the sync detects it before any
15-minute load writes, refuses with what changed, and a re-baseline puts the portal on ASPIRE's new timeline."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import psycopg
import pytest

from aspire_emulator import backup, generate, simulate
from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, model, status, timeline
from aspire_portal.load import load_entity
from helpers import run_dag, settle, task_states, use_connections, watermarks
from projection import assert_portal_equals_source
from syncing import (
    PERMISSIVE,
    incremental,
    incremental_request,
    load,
    rebaseline,
    resolve,
    run_id,
    synced_world,
)

pytestmark = pytest.mark.timeout(600)
IN_SCOPE_CONTRACT = """
    select min(r.contractoid) from dbo.contractrole r join dbo.contract c on c.contractoid = r.contractoid
    where c.isbooked = 1 and c.status = 'Commenced' and r.roletype = 'Customer' and r.accountoid = any(%s)
"""


@pytest.fixture(scope="module")
def world(fresh_database):
    return synced_world(fresh_database, "timeline", seed=1818, enroll_seed=18, customers=8)


def time_passes(aspire_dsn: str, versions: int = 1_000_000) -> None:
    """The lost timeline goes on for a while: its writes use row versions a restore hands out again. Far enough that
    other work on a shared server (which moves the emulator's cluster-wide counter too) cannot catch up with it."""
    backup.advance(aspire_dsn, versions)


def check(w) -> timeline.Check:
    with psycopg.connect(w.aspire_dsn) as source, psycopg.connect(w.portal_dsn, autocommit=True) as target:
        return timeline.check(source, target, "postgres")


def portal_fingerprint(portal_dsn: str) -> dict[str, tuple]:
    with psycopg.connect(portal_dsn) as portal:
        return {
            e.name: portal.execute(
                f"select count(*), sum(source_rowver), max(synced_at) from {e.target_table}"
            ).fetchone()
            for e in catalogue.ENTITIES
        }


def in_step(w) -> None:
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire, psycopg.connect(w.portal_dsn) as portal:
        settle(aspire)
        assert_portal_equals_source(aspire, portal, w.accounts)


def test_the_emulator_restores_as_sql_server_does(fresh_database):
    """After a restore: the backup's rows, a new recovery fork, and row versions that continue after the backup's
    @@DBTS, below the ones written since (which a reader may have seen)."""
    dsn = fresh_database("timeline_emulator")
    generate.create(dsn, size="small", seed=7)
    guid, fork, _ = backup.recovery_status(dsn)
    kept = backup.backup(dsn, "before")
    touched = simulate.edit_account(dsn)
    account = touched["Account"][0]
    time_passes(dsn)
    with psycopg.connect(dsn) as conn:
        written = conn.execute("select rowver, email from dbo.account where accountoid = %s", (account,)).fetchone()
    lost_dbts = backup.recovery_status(dsn)[2]  # the highest row version the lost timeline handed out
    assert kept < written[0] < lost_dbts - 999_000
    assert backup.restore(dsn, "before") == kept
    guid_after, fork_after, dbts_after = backup.recovery_status(dsn)
    assert guid_after == guid and fork_after != fork and kept <= dbts_after < lost_dbts
    with psycopg.connect(dsn) as conn:
        assert (
            conn.execute("select email from dbo.account where accountoid = %s", (account,)).fetchone()[0] != written[1]
        )
    simulate.edit_account(dsn, account)
    with psycopg.connect(dsn) as conn:
        again = conn.execute("select rowver from dbo.account where accountoid = %s", (account,)).fetchone()[0]
    assert kept < again <= lost_dbts  # a row version the lost timeline used already
    with pytest.raises(ValueError, match="backup name"):
        backup.backup(dsn, "Bad Name")
    with pytest.raises(psycopg.errors.RaiseException, match="no backup named"):
        backup.restore(dsn, "never_taken")


def test_a_restore_is_detected_refused_and_healed_by_a_rebaseline(world):
    w = world
    assert check(w).state == "ok"
    backup.backup(w.aspire_dsn, "nightly")
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        contract = aspire.execute(IN_SCOPE_CONTRACT, (w.accounts,)).fetchone()[0]
    lost = simulate.new_invoice(w.aspire_dsn, contract)["Invoice"][0]  # the timeline the restore loses
    simulate.edit_account(w.aspire_dsn, w.accounts[0])
    time_passes(w.aspire_dsn)
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        settle(aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    assert check(w).state == "ok"
    with psycopg.connect(w.portal_dsn) as portal:
        before_restore = watermarks(portal)
        assert portal.execute("select 1 from aspire.invoice where invoice_oid = %s", (lost,)).fetchone()

    backup.restore(w.aspire_dsn, "nightly")
    after = simulate.new_invoice(w.aspire_dsn, contract)["Invoice"][0]  # row versions the portal has read before
    simulate.edit_account(w.aspire_dsn, w.accounts[1])
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        rowver = aspire.execute("select rowver from dbo.invoice where invoiceoid = %s", (after,)).fetchone()[0]
    assert rowver < before_restore["invoice"], "the emulator must reuse row versions the sync has read"

    found = check(w)
    assert found.state == "went_back"
    assert "recovery_fork_guid" in found.detail and "below the portal's watermarks" in found.detail
    assert "--conf '{\"rebaseline\": true}'" in found.detail
    assert check(w).state == "went_back"  # it stays so until the re-baseline

    # no 15-minute load writes: the load itself refuses, even without the run's check
    untouched = portal_fingerprint(w.portal_dsn)
    run = run_id("incremental")
    resolved = resolve(w.aspire_dsn, w.portal_dsn, "aspire_portal_incremental", run)
    with pytest.raises(model.AspireWentBack, match="below the watermark"):
        load(w.aspire_dsn, w.portal_dsn, incremental_request(catalogue.entity("invoice"), run), resolved)
    assert portal_fingerprint(w.portal_dsn) == untouched
    with psycopg.connect(w.portal_dsn, autocommit=True) as target:
        report = status.status(target)
        assert report.worst == "failing" and "ASPIRE WENT BACK IN TIME" in report.text()

    with psycopg.connect(w.portal_dsn, autocommit=True) as portal:  # as far ahead as a long-lost timeline may be
        portal.execute("update aspire_sync.watermark set high_water_mark = high_water_mark + 1000000")
    results = rebaseline(w.aspire_dsn, w.portal_dsn)
    assert check(w).state == "ok"
    in_step(w)
    with psycopg.connect(w.portal_dsn) as portal:
        assert not portal.execute("select 1 from aspire.invoice where invoice_oid = %s", (lost,)).fetchone()
        assert portal.execute("select 1 from aspire.invoice where invoice_oid = %s", (after,)).fetchone()
        marks = watermarks(portal)
    fifteen = [e.name for e in catalogue.entities("15min")]
    assert {e: marks[e] for e in fifteen} == {e: results[e].read_bound for e in fifteen}
    assert marks["invoice"] < before_restore["invoice"] + 1000000  # set back to the new timeline

    # and the 15-minute runs pick up what ASPIRE writes next
    newest = simulate.new_invoice(w.aspire_dsn, contract)["Invoice"][0]
    simulate.edit_account(w.aspire_dsn, w.accounts[2])
    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:
        settle(aspire)
    incremental(w.aspire_dsn, w.portal_dsn)
    with psycopg.connect(w.portal_dsn) as portal:
        assert portal.execute("select 1 from aspire.invoice where invoice_oid = %s", (newest,)).fetchone()
    in_step(w)


def test_the_dags_refuse_after_a_restore_start_the_rebaseline_and_resume(fresh_database, dagbag):
    """Through the DAGs: the 15-minute run fails before any load writes and starts the re-baseline; the daily
    refresh with rebaseline reloads everything; the next 15-minute run succeeds and the portal equals ASPIRE."""
    aspire_dsn = fresh_database("timeline_dag_aspire")
    generate.create(aspire_dsn, size="small", seed=1819)
    portal_dsn = fresh_database("timeline_dag_portal")
    portal_app.create_portal_schema(portal_dsn)
    accounts = portal_app.enroll(portal_dsn, aspire_dsn, count=6, seed=19)
    w = SimpleNamespace(aspire_dsn=aspire_dsn, portal_dsn=portal_dsn, accounts=accounts)
    use_connections(aspire_dsn, portal_dsn)
    with psycopg.connect(aspire_dsn, autocommit=True) as aspire:
        settle(aspire)
    run_dag(dagbag)
    backup.backup(aspire_dsn, "nightly")
    simulate.edit_account(aspire_dsn, accounts[0])
    time_passes(aspire_dsn)
    with psycopg.connect(aspire_dsn, autocommit=True) as aspire:
        settle(aspire)
    run_dag(dagbag)
    backup.restore(aspire_dsn, "nightly")
    simulate.edit_account(aspire_dsn, accounts[1])
    untouched = portal_fingerprint(portal_dsn)

    failed = run_dag(dagbag, expect="failed")
    states = task_states(failed)
    assert states["resolve_scope"] == "failed"
    assert states["rebaseline_due"] == "success" and states["start_rebaseline"] == "success"
    assert all(state == "upstream_failed" for task, state in states.items() if task.startswith("load_"))
    assert portal_fingerprint(portal_dsn) == untouched
    again = task_states(run_dag(dagbag, expect="failed"))  # while the re-baseline waits in the queue
    assert again["resolve_scope"] == "failed" and again["start_rebaseline"] == "skipped"  # one per detection

    with psycopg.connect(aspire_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        timeline.start_rebaseline(source, target, "postgres")  # as the daily refresh's first task does
    waiting = task_states(run_dag(dagbag))
    assert waiting["resolve_scope"] == "skipped" and waiting["start_rebaseline"] == "skipped"
    with psycopg.connect(portal_dsn, autocommit=True) as target:  # a re-baseline that failed hours ago
        target.execute("update aspire_sync.aspire_timeline set rebaseline_started_at = now() - interval '4 hours'")
    stalled = task_states(run_dag(dagbag, expect="failed"))
    assert stalled["resolve_scope"] == "failed" and stalled["start_rebaseline"] == "skipped"
    assert portal_fingerprint(portal_dsn) == untouched

    rebased = run_dag(dagbag, "aspire_portal_daily_refresh", conf={"rebaseline": True})
    assert task_states(rebased)["finish_rebaseline"] == "success"
    assert check(w).state == "ok"
    run_dag(dagbag)
    in_step(w)


def test_a_load_refuses_a_read_bound_below_its_watermark(world):
    """The load's own guard, whoever runs it: a read bound below the entity's watermark writes nothing."""
    w = world
    with psycopg.connect(w.portal_dsn, autocommit=True) as portal:
        mark = watermarks(portal)["account"]
        portal.execute(
            "update aspire_sync.watermark set high_water_mark = %s where entity = 'account'", (mark + 10**6,)
        )
    try:
        with psycopg.connect(w.aspire_dsn) as source, psycopg.connect(w.portal_dsn, autocommit=True) as target:
            request = model.LoadRequest(catalogue.entity("account"), "incremental")
            with pytest.raises(model.AspireWentBack, match="went back in time"):
                load_entity(source, target, request, dialect="postgres", options=model.LoadOptions(guard=PERMISSIVE))
    finally:
        with psycopg.connect(w.portal_dsn, autocommit=True) as portal:
            portal.execute("update aspire_sync.watermark set high_water_mark = %s where entity = 'account'", (mark,))


def small_world(fresh_database, name: str, seed: int) -> SimpleNamespace:
    return synced_world(fresh_database, name, seed=seed, enroll_seed=seed, customers=4)


def test_checks_at_once_never_take_each_other_for_aspire_going_back(fresh_database):
    """Many runs check at once while ASPIRE is written to: each looks at ASPIRE only once it holds the timeline row,
    so none sees an older @@DBTS than one already recorded."""
    w = small_world(fresh_database, "timeline_race", 1820)
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            simulate.edit_account(w.aspire_dsn, w.accounts[0])

    def checker() -> list[str]:
        return [check(w).state for _ in range(15)]

    background = threading.Thread(target=writer)
    background.start()
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            states = [s for found in pool.map(lambda _: checker(), range(6)) for s in found]
    finally:
        stop.set()
        background.join()
    assert states == ["ok"] * 90


def test_the_first_check_of_a_deployment_compares_with_the_watermarks(fresh_database):
    """A deployment upgraded after ASPIRE went back has no timeline recorded yet: its first check still finds ASPIRE
    below the watermarks; and a login that cannot see ASPIRE's recovery status gets an error that says so."""
    w = small_world(fresh_database, "timeline_first", 1821)
    with psycopg.connect(w.portal_dsn, autocommit=True) as portal:
        portal.execute("delete from aspire_sync.aspire_timeline")
        portal.execute("update aspire_sync.watermark set high_water_mark = high_water_mark + 1000000")
    found = check(w)
    assert found.state == "went_back" and "before this deployment first checked it" in found.detail
    with psycopg.connect(w.portal_dsn, autocommit=True) as portal:
        portal.execute("update aspire_sync.watermark set high_water_mark = high_water_mark - 1000000")
        portal.execute("delete from aspire_sync.aspire_timeline")
    assert check(w).state == "ok"

    with psycopg.connect(w.aspire_dsn, autocommit=True) as aspire:  # as SQL Server hides the row from such a login
        aspire.execute("delete from sys.database_recovery_status")
    with pytest.raises(timeline.TimelineUnreadable, match="VIEW ANY DATABASE"):
        check(w)
    with psycopg.connect(w.portal_dsn) as portal:
        assert portal.execute("select state from aspire_sync.aspire_timeline").fetchone()[0] == "ok"


def test_a_rebaseline_that_aspire_overtakes_or_that_stalls_is_not_taken_for_done(fresh_database):
    """A restore during the re-baseline sends it round again; a re-baseline that never finishes stops being waited
    for once it is older than any daily refresh may run."""
    w = small_world(fresh_database, "timeline_rerun", 1822)
    backup.backup(w.aspire_dsn, "nightly")
    simulate.edit_account(w.aspire_dsn, w.accounts[0])
    time_passes(w.aspire_dsn)
    with psycopg.connect(w.aspire_dsn) as source, psycopg.connect(w.portal_dsn, autocommit=True) as target:
        began = timeline.start_rebaseline(source, target, "postgres")
    assert check(w).state == "rebaselining" and not check(w).overdue
    backup.restore(w.aspire_dsn, "nightly")  # ASPIRE goes back again while the loads run
    with psycopg.connect(w.aspire_dsn) as source, psycopg.connect(w.portal_dsn, autocommit=True) as target:
        with pytest.raises(model.AspireWentBack, match="again during the re-baseline"):
            timeline.finish_rebaseline(source, target, "postgres")
        assert timeline.state(target).state == "went_back"
        assert backup.recovery_status(w.aspire_dsn)[1] != began.recovery_fork_guid

        timeline.start_rebaseline(source, target, "postgres")
        target.execute(
            "update aspire_sync.aspire_timeline set rebaseline_started_at = now() - interval '3 hours 31 minutes'"
        )
        found = check(w)
        assert found.state == "rebaselining" and found.overdue
        report = status.status(target)
        assert "RE-BASELINE STALLED" in report.text() and report.worst == "failing"
    rebaseline(w.aspire_dsn, w.portal_dsn)
    assert check(w) == timeline.Check("ok")
    in_step(w)
