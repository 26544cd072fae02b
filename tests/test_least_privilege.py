"""A least-privilege deployment, as a DBA sets it up: include/sql/admin/setup_roles.sql run once by psql,
then the DAGs running as aspire_portal_sync, logging in with the password the DBA gives it. Also: no
other login can hold a load back, a lock wait ends in a clear error, and bad enrolment rows are quarantined."""

from __future__ import annotations

import os
import subprocess
import threading

import psycopg
import pytest

from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, enrolment, model, sqlfiles
from aspire_portal.load import load_entity
from helpers import (
    ADMIN_DSN,
    FULL_SYNC_DAG_ID,
    READER,
    REPO,
    SYNC,
    SYNC_PASSWORD,
    as_role,
    drop_roles_created_here,
    loads,
    run_dag,
    set_password,
    settle,
    use_connections,
)
from projection import assert_portal_equals_source

pytestmark = [pytest.mark.timeout(600), pytest.mark.passwords]

NO_SUCH_ACCOUNT = 999_999_999


def setup_roles(dsn: str) -> subprocess.CompletedProcess:
    """The DBA's one step, verbatim from docs/deployment.md (psql as the database owner, here the superuser)."""
    return subprocess.run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(REPO / "include/sql/admin/setup_roles.sql")],
        capture_output=True,
        text=True,
    )


def link_user(portal: psycopg.Connection, account_oid: int) -> None:
    """What the portal application does: a user linked to an account (here one no customer should have)."""
    user_id = portal.execute(
        "insert into portal.portal_user (email) values (%s) returning user_id", (f"bad{account_oid}@example.com",)
    ).fetchone()[0]
    portal.execute(
        "insert into portal.portal_user_account (user_id, account_oid) values (%s, %s)", (user_id, account_oid)
    )


@pytest.fixture(scope="module")
def deployment(fresh_database, aspire_small, dagbag):
    with psycopg.connect(ADMIN_DSN) as admin:
        existed = {
            r[0] for r in admin.execute("select rolname from pg_roles where rolname in (%s, %s)", (SYNC, READER))
        }
    portal_dsn = fresh_database("least_privilege_portal")
    portal_app.create_portal_schema(portal_dsn)
    customers = portal_app.enroll(portal_dsn, aspire_small, count=6, seed=9)
    with psycopg.connect(portal_dsn, autocommit=True) as owner:
        link_user(owner, 0)  # the portal's table is outside the sync's control: one row names account 0 ...
        link_user(owner, NO_SUCH_ACCOUNT)  # ... another an account ASPIRE does not have
    first, again = setup_roles(portal_dsn), setup_roles(portal_dsn)  # idempotent
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    set_password(SYNC, SYNC_PASSWORD)
    sync_dsn = as_role(portal_dsn, SYNC, SYNC_PASSWORD)
    use_connections(aspire_small, sync_dsn)
    with (
        psycopg.connect(aspire_small, autocommit=True) as aspire,
        psycopg.connect(portal_dsn, autocommit=True) as owner,
    ):
        settle(aspire)
        yield type(
            "Deployment",
            (),
            {
                "aspire": aspire,
                "owner": owner,
                "portal_dsn": portal_dsn,
                "sync_dsn": sync_dsn,
                "customers": sorted(customers),
                "aspire_dsn": aspire_small,
            },
        )
    drop_roles_created_here({SYNC, READER} - existed, portal_dsn)


@pytest.fixture(autouse=True)
def _connections(deployment):
    use_connections(deployment.aspire_dsn, deployment.sync_dsn)


def test_the_setup_script_then_the_dags_as_the_sync_role(dagbag, deployment):
    d = deployment
    run_dag(dagbag, FULL_SYNC_DAG_ID, conf={"customer_id": d.customers[0]})  # migrates as the sync role, too
    run = run_dag(dagbag)
    assert {e for e, row in loads(d.owner, run.run_id).items() if row["status"] == "success"} == {
        e.name for e in catalogue.entities("15min")
    }
    run_dag(dagbag, "aspire_portal_daily_refresh")
    assert_portal_equals_source(d.aspire, d.owner, d.customers)
    owners = d.owner.execute(
        "select distinct tableowner from pg_tables where schemaname in ('aspire', 'aspire_sync')"
    ).fetchall()
    assert owners == [(SYNC,)]
    # The bad enrolment rows stopped nobody; support sees them.
    quarantine = d.owner.execute(
        "select account_oid, reason, portal_users from aspire_sync.enrolment_quarantine order by 1"
    ).fetchall()
    assert quarantine == [
        ("0", enrolment.NOT_AN_ACCOUNT_OID, 1),
        (str(NO_SUCH_ACCOUNT), enrolment.NO_ASPIRE_ACCOUNT, 1),
    ]


def test_the_sync_role_has_no_privilege_beyond_its_schemas(deployment):
    d = deployment
    database = psycopg.conninfo.conninfo_to_dict(d.portal_dsn)["dbname"]
    assert d.owner.execute("select has_database_privilege(%s, %s, 'CREATE')", (SYNC, database)).fetchone() == (False,)
    with psycopg.connect(d.sync_dsn, autocommit=True) as sync:
        assert sync.execute("select count(*) from portal.portal_user_account").fetchone()[0] >= 8
        for statement in (
            "create schema sneaky",
            "insert into portal.portal_user (email) values ('sync@example.com')",
            "delete from portal.portal_user_account",
            "select count(*) from portal.portal_user",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                sync.execute(statement)


def test_the_reader_reads_everything_and_writes_nothing(deployment):
    d = deployment
    with psycopg.connect(d.portal_dsn) as reader:
        reader.execute(f"set role {READER}")
        for entity in catalogue.ENTITIES:
            reader.execute(f"select count(*) from {entity.target_table}")
        reader.execute("select count(*) from aspire_sync.watermark")
        reader.execute("select count(*) from aspire_sync.enrolment_quarantine")
        for statement in (
            "delete from aspire.invoice",
            "update aspire_sync.watermark set high_water_mark = 0",
            "insert into aspire_sync.sync_lock values ('x')",
            "select * from aspire_sync.sync_lock for share",
            "lock table aspire.invoice in exclusive mode",
            "create table aspire.sneaky (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(statement)
            reader.rollback()
            reader.execute(f"set role {READER}")


def test_a_reader_holding_every_lock_it_can_does_not_hold_a_load_back(dagbag, deployment):
    """The portal's login (role aspire_portal_reader) takes every lock it may: ACCESS SHARE on every table of
    aspire and aspire_sync, and the advisory locks the sync used to coordinate with. The incremental completes."""
    d = deployment
    with psycopg.connect(d.portal_dsn) as reader:
        reader.execute(f"set role {READER}")
        tables = [
            r[0]
            for r in reader.execute(
                "select format('%I.%I', schemaname, tablename) from pg_tables where schemaname in ('aspire', "
                "'aspire_sync')"
            )
        ]
        for table in tables:
            reader.execute(f"lock table {table} in access share mode")
        for entity in catalogue.ENTITIES:
            reader.execute(
                "select pg_advisory_lock(hashtext('aspire_sync.watermark'), hashtext(%s)), "
                "pg_advisory_lock(hashtext('aspire_sync.entity_scope'), hashtext(%s))",
                (entity.name, entity.name),
            )
        reader.execute("select pg_advisory_lock(hashtext('aspire_sync.schema_migration'))")
        run = run_dag(dagbag)  # while the reader's transaction holds all of it
        assert all(row["status"] == "success" for row in loads(d.owner, run.run_id, scope_only=True).values())
        assert reader.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS


def load(d, name: str, timeouts: model.LockTimeouts) -> model.LoadResult:
    with psycopg.connect(d.aspire_dsn) as source, psycopg.connect(d.sync_dsn, autocommit=True) as target:
        return load_entity(
            source,
            target,
            model.LoadRequest(catalogue.entity(name), "incremental"),
            dialect="postgres",
            options=model.LoadOptions(timeouts=timeouts),
        )


def failures(d, name: str) -> list[str]:
    return [
        r[0]
        for r in d.owner.execute(
            "select error from aspire_sync.run_log where entity = %s and status = 'failed' order by run_log_id", (name,)
        )
    ]


def test_a_lock_an_outside_session_holds_ends_the_load_with_a_clear_error(deployment):
    """The database owner (say, a DBA's maintenance) holds aspire.invoice exclusively: the load waits no longer
    than its lock timeout, writes nothing, records why, and its task would retry."""
    d = deployment
    before = d.owner.execute("select high_water_mark from aspire_sync.watermark where entity = 'invoice'").fetchone()
    with psycopg.connect(d.portal_dsn) as dba:
        dba.execute("lock table aspire.invoice in access exclusive mode")
        with pytest.raises(
            model.LockTimeout,
            match=r"the load of invoice waited longer than its lock timeout .*"
            r"nothing was written and the task retries",
        ):
            load(d, "invoice", model.LockTimeouts(other="1s"))
    assert (
        d.owner.execute("select high_water_mark from aspire_sync.watermark where entity = 'invoice'").fetchone()
        == before
    )
    assert failures(d, "invoice")[-1].startswith("LockTimeout: the load of invoice waited longer")
    assert load(d, "invoice", model.LockTimeouts(other="1s")).load_kind == "incremental"  # the retry goes through


def test_a_load_waits_its_turn_behind_another_load_of_the_entity_then_times_out(deployment):
    d = deployment
    with psycopg.connect(d.sync_dsn) as other_load:  # a daily full load of `receipt` holds the entity's turn
        other_load.execute(sqlfiles.read("turns/insert_sync_lock.sql"), {"entity": "cash_receipt"})
        other_load.commit()
        other_load.execute(sqlfiles.render("turns/lock_entity_scope.sql", exclusive=True), {"entity": "cash_receipt"})
        waited = []
        waiting = threading.Thread(
            target=lambda: waited.append(
                pytest.raises(model.LockTimeout, load, d, "cash_receipt", model.LockTimeouts(coordination="2s"))
            )
        )
        waiting.start()
        waiting.join(30)
        assert waited and "sync_lock" in str(waited[0].value)


def test_fixed_enrolment_rows_leave_the_quarantine(dagbag, deployment):
    d = deployment
    d.owner.execute("delete from portal.portal_user_account where account_oid in (0, %s)", (NO_SUCH_ACCOUNT,))
    run_dag(dagbag)
    assert d.owner.execute("select count(*) from aspire_sync.enrolment_quarantine").fetchone() == (0,)


def test_the_setup_script_says_what_is_missing(fresh_database):
    dsn = fresh_database("least_privilege_no_portal")  # the portal has not created its schema yet
    done = setup_roles(dsn)
    assert done.returncode != 0
    assert "portal.portal_user_account does not exist in database" in done.stderr


def test_the_setup_script_fails_when_it_cannot_give_the_sync_the_enrolment_table(fresh_database):
    """A database owner (CREATEROLE, not superuser) who may read the portal's table but not grant it: PostgreSQL only
    warns on such a GRANT; the script must not end as if the sync could read the enrolment."""
    suffix = os.urandom(3).hex()
    owner, app, password = f"lp_owner_{suffix}", f"lp_app_{suffix}", f"owner-Pw-{suffix}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        existed = {
            r[0] for r in admin.execute("select rolname from pg_roles where rolname in (%s, %s)", (SYNC, READER))
        }
        admin.execute(f"create role {owner} login createrole")
        set_password(owner, password)
        admin.execute(f"create role {app}")
    dsn = fresh_database("least_privilege_foreign_portal")
    try:
        with psycopg.connect(dsn, autocommit=True) as superuser:
            database = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
            superuser.execute(f'alter database "{database}" owner to {owner}')
            superuser.execute(f"create schema portal authorization {app}")
            superuser.execute("create table portal.portal_user_account (user_id bigint, account_oid bigint)")
            superuser.execute(f"alter table portal.portal_user_account owner to {app}")
            superuser.execute(f"grant usage on schema portal to {owner}")
            superuser.execute(f"grant select on portal.portal_user_account to {owner}")
        done = setup_roles(as_role(dsn, owner, password))
        assert done.returncode != 0
        assert "could not grant aspire_portal_sync read access to the enrolment table" in done.stderr
    finally:
        drop_roles_created_here({SYNC, READER} - existed, dsn)
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            database = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
            admin.execute(f'drop database if exists "{database}" with (force)')
            admin.execute(f"drop role if exists {app}")
            admin.execute(f"drop role if exists {owner}")
