"""A load killed outright (SIGKILL: a worker lost, out of memory) shows in aspire_sync.run_log as failed, not as
nothing: its row is written as running when it starts, and the next load of the entity marks it failed once its
session is gone. The load runs in a real child process, held inside its transaction by a second session's lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, migrations, model
from aspire_portal.load import load_entity
from helpers import REPO

pytestmark = pytest.mark.timeout(300)

CHILD = """
import sys, psycopg
from aspire_portal import catalogue, model
from aspire_portal.load import load_entity
request = model.LoadRequest(entity=catalogue.entity("invoice"), kind="full",
                             run=model.RunContext("test_run_log", "killed", "load_invoice"))
with psycopg.connect(sys.argv[1]) as source, psycopg.connect(sys.argv[2], autocommit=True) as target:
    load_entity(source, target, request, dialect="postgres")
"""


def test_a_load_killed_outright_is_logged_failed_by_the_next_load(aspire_small, portal_database):
    portal_app.enroll(portal_database, aspire_small, count=10, seed=1)
    with psycopg.connect(portal_database, autocommit=True) as portal:
        migrations.migrate(portal)
        holder = psycopg.connect(portal_database)
        holder.execute("lock table aspire.invoice in access exclusive mode")  # the load waits inside its transaction
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, aspire_small, portal_database],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}"},
        )
        try:
            deadline = time.monotonic() + 60
            while not portal.execute(
                "select 1 from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()"
            ).fetchone():
                assert child.poll() is None and time.monotonic() < deadline, "the load never reached the lock"
                time.sleep(0.2)
            assert portal.execute("select status from aspire_sync.run_log where run_id = 'killed'").fetchall() == [
                ("running",)
            ]
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        finally:
            holder.rollback()
            holder.close()
        deadline = time.monotonic() + 30  # PostgreSQL notices the dead client and rolls its transaction back
        while portal.execute(
            "select 1 from pg_stat_activity where pid = (select backend_pid from aspire_sync.run_log "
            "where run_id = 'killed')"
        ).fetchone():
            assert time.monotonic() < deadline, "the killed load's session outlived it"
            time.sleep(0.2)
        assert portal.execute("select count(*) from aspire.invoice").fetchone() == (0,)  # it wrote nothing

        request = model.LoadRequest(
            entity=catalogue.entity("invoice"),
            kind="full",
            run=model.RunContext("test_run_log", "retry", "load_invoice"),
        )
        with psycopg.connect(aspire_small) as source:
            result = load_entity(source, portal, request, dialect="postgres")

        logged = portal.execute(
            "select run_id, status, error, finished_at is not null, rows_read from "
            "aspire_sync.run_log where dag_id = 'test_run_log' order by run_log_id"
        ).fetchall()
        assert [(run, status) for run, status, *_rest in logged] == [("killed", "failed"), ("retry", "success")]
        assert "process ended before the load did" in logged[0][2] and logged[0][3]
        assert logged[1][4] == result.rows_read > 0


def test_a_running_row_whose_pid_a_newer_session_got_is_logged_failed(aspire_small, portal_database):
    """PostgreSQL reuses pids: a running row is its session's pid and start time, so a row whose pid now belongs to
    an unrelated, newer session is abandoned all the same."""
    portal_app.enroll(portal_database, aspire_small, count=10, seed=2)
    with psycopg.connect(portal_database, autocommit=True) as portal, psycopg.connect(portal_database) as newer:
        migrations.migrate(portal)
        reused = newer.execute("select pg_backend_pid()").fetchone()[0]
        portal.execute(
            "insert into aspire_sync.run_log (dag_id, run_id, task_id, entity, load_kind, started_at, status, "
            "backend_pid, backend_start) values ('test_run_log', 'gone', 'load_account', 'account', 'full', "
            "now() - interval '1 hour', 'running', %s, now() - interval '1 hour')",
            (reused,),
        )
        request = model.LoadRequest(
            entity=catalogue.entity("account"),
            kind="full",
            run=model.RunContext("test_run_log", "next", "load_account"),
        )
        with psycopg.connect(aspire_small) as source:
            load_entity(source, portal, request, dialect="postgres")
        logged = dict(
            portal.execute("select run_id, status from aspire_sync.run_log where dag_id = 'test_run_log'").fetchall()
        )
        assert logged == {"gone": "failed", "next": "success"}
        own = portal.execute(
            "select backend_start = (select backend_start from pg_stat_activity where pid = pg_backend_pid()) "
            "from aspire_sync.run_log where run_id = 'next'"
        ).fetchone()[0]
        assert own  # the load's own row carries its session's start
