"""The DAGs on a live Airflow with the CeleryExecutor: `scripts/stack.py up`, what `make stack` runs, with
two Celery workers, Redis as the broker and PostgreSQL as the metadata database, on this session's own databases.

Everything goes through the deployment's own interfaces: runs are triggered through the REST API (a token from
POST /auth/token, as the portal does), the backfill with `airflow backfill create`, activity with
`python -m aspire_emulator ... simulate`. One test, in phases that overlap as they would in production:

1. The portal enrols 27 customers and the activity simulator writes to ASPIRE; a manual incremental run loads their
   rows, and its `load_invoice` (or a scheduled run's, if one came first) stops at its last statement: the test
   holds the row lock on the invoice watermark, so the load has read, staged and merged its rows.
2. The worker running that load is drained (`airflow celery remove-queue`), so the load is all it runs and no
   message it prefetched is lost with it. Meanwhile three more customers get portal users and their full syncs are
   triggered through the REST API, with the daily refresh. Then the drained worker is killed (SIGKILL, its whole
   process tree) in the middle of the load.
   What a kill looks like: the task process dies with no exception (SIGKILL), so the engine's except block never
   runs; PostgreSQL rolls the load's transaction back (rows, held scope, watermark); its aspire_sync.run_log row,
   written as running when the load started, stays running until the retry's load marks it failed (its session is
   gone). Airflow's scheduler finds the task without a heartbeat
   (the timeout is 30 s here, 300 s by default), the dag-processor fails the try and the task is retried, on the
   only worker left. A SIGTERM would not have killed the load: Celery's warm shutdown waits for running tasks,
   and Airflow 3.3's task runner answers SIGTERM with the operator's on_kill() only.
3. ASPIRE activity stamped in a past window, then `airflow backfill create --reprocess-behavior completed` over
   that window (its scheduled run is reprocessed, the other interval gets a new run).
4. When everything has ended and ASPIRE is quiet, one more daily refresh; then the portal equals the scope of the
   enrolled customers computed from the dbo tables directly (tests/projection.py), all 12 entities.
5. A payment posted in ASPIRE away from a */15 tick reaches the portal through a run the change watcher (in the
   triggerer) started. The watcher is on through every phase above, so their guarantees hold with it.

The stack is stopped by pid and its databases dropped at the end, whatever happened; the Redis keys it wrote (under
its own prefix in the shared Redis) are removed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import psycopg
import pytest
from psycopg import sql

from aspire_emulator import portal as portal_app
from aspire_emulator import simulate
from aspire_portal import catalogue
from helpers import ADMIN_DSN, DB_PREFIX, REPO, database_dsn, rest_call, settle
from projection import assert_portal_equals_source

pytestmark = pytest.mark.timeout(600)

_spec = importlib.util.spec_from_file_location("stack_script", REPO / "scripts" / "stack.py")
stack_cli = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stack_cli)  # scripts/stack.py, for its memory measure

INCREMENTAL = "aspire_portal_incremental"
FULL_SYNC = "aspire_portal_customer_full_sync"
DAILY = "aspire_portal_daily_refresh"
SYNC_DAGS = (INCREMENTAL, FULL_SYNC, DAILY)
VICTIM_TASK = "load_invoice"
HEARTBEAT_TIMEOUT = 30
TERMINAL = {"success", "failed"}
PG_PORT = int(psycopg.conninfo.conninfo_to_dict(ADMIN_DSN).get("port") or 5432)


# ---- the stack ---------------------------------------------------------------------------------------------------


class Stack:
    """A stack `scripts/stack.py up` started in `state`: its REST API, its CLI environment, its processes."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.data = json.loads((state / "stack.json").read_text())
        self.url = self.data["url"]
        self.env = {}
        for line in (state / "env.sh").read_text().splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export ") :].partition("=")
                self.env[key] = shlex.split(value)[0] if value else ""
        password = json.loads((state / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())
        status, body = self.call(
            "POST", "/auth/token", {"username": "admin", "password": password["admin"]}, token=False
        )
        assert status in (200, 201), (status, body)
        self.token = body["access_token"]
        self.aspire_dsn = database_dsn(self.data["databases"][1])
        self.portal_dsn = database_dsn(self.data["databases"][2])

    def call(self, method: str, path: str, body: dict | None = None, *, token: bool = True) -> tuple[int, dict]:
        return rest_call(self.url, method, path, body, {"Authorization": f"Bearer {self.token}"} if token else None)

    def get(self, path: str) -> dict:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        status, body = self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        assert status == 200, (dag_id, status, body)
        return body["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}")["state"]

    def task(self, dag_id: str, run_id: str, task_id: str) -> dict:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}")

    def runs(self, dag_id: str) -> list[dict]:
        """Every run of the DAG (page by page: the change watcher starts many)."""
        runs: list[dict] = []
        while True:
            page = self.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=100&offset={len(runs)}&order_by=id")["dag_runs"]
            runs += page
            if len(page) < 100:
                return runs

    def airflow(self, *args: str) -> str:
        done = subprocess.run(["airflow", *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"airflow {' '.join(args)}: exit {done.returncode}\n{done.stderr[-3000:]}"
        return done.stdout

    def worker(self, name: str) -> psutil.Process:
        return psutil.Process(int((self.state / "pids" / f"{name}.pid").read_text()))

    def processes(self) -> list[psutil.Process]:
        found = []
        for pid_file in (self.state / "pids").glob("*.pid"):
            try:
                root = psutil.Process(int(pid_file.read_text()))
                found += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        return found


def quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def stack_script(state: Path, *args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "stack.py"), "--state", str(state), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_until(what, check, timeout: float, interval: float = 1.0):
    """Polls `check` until it returns something true, and returns that; `what` (text, or a function giving the
    text when the wait failed) names what it waited for."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


def wait_for_runs(stack: Stack, runs: dict[str, str], timeout: float) -> dict[str, str]:
    """Waits for the runs (run id -> dag id) to end; returns their states."""
    states: dict[str, str] = {}

    def ended() -> bool:
        for run_id, dag_id in runs.items():
            if states.get(run_id) not in TERMINAL:
                states[run_id] = stack.run_state(dag_id, run_id)
        return all(state in TERMINAL for state in states.values())

    def unfinished() -> str:
        lines = []
        for run_id, dag_id in runs.items():
            if states.get(run_id) in TERMINAL:
                continue
            tis = stack.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances?limit=100")
            lines.append(
                f"{dag_id} {run_id} {states.get(run_id)}: "
                + ", ".join(
                    f"{ti['task_id']}[{ti['map_index']}] {ti['state']} try {ti['try_number']}"
                    for ti in tis["task_instances"]
                    if ti["state"] != "success"
                )
            )
        with psycopg.connect(stack.portal_dsn) as portal:
            failed = portal.execute(
                "select task_id, run_id, left(error, 500) from aspire_sync.run_log "
                "where status = 'failed' order by run_log_id desc limit 5"
            ).fetchall()
        return "runs to end:\n" + "\n".join(lines) + "\nlatest failed loads:\n" + "\n".join(map(str, failed))

    wait_until(unfinished, ended, timeout, 2)
    return states


def task_processes(worker: psutil.Process) -> list[psutil.Process]:
    """The task processes a Celery worker runs: children of its pool processes (each pool process is the task's
    supervisor while it runs one), without the finished ones a supervisor has not reaped yet."""
    running = []
    for pool in worker.children():
        for task in pool.children():
            try:
                if task.status() != psutil.STATUS_ZOMBIE:
                    running.append(task)
            except psutil.NoSuchProcess:
                pass
    return running


class MemoryWatch(threading.Thread):
    """Samples the stack's memory (proportional set sizes of all its processes) until stopped; keeps the peak."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(5):
            self.peak = max(self.peak, stack_cli.memory(self.stack.processes()))


class Simulator(threading.Thread):
    """ASPIRE's users at work: `python -m aspire_emulator simulate` in small batches until stopped."""

    def __init__(self, aspire_dsn: str) -> None:
        super().__init__(daemon=True)
        self.aspire_dsn = aspire_dsn
        self.stop = threading.Event()
        self.batches = 0
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "aspire_emulator",
                    "-q",
                    "--aspire",
                    self.aspire_dsn,
                    "simulate",
                    "--events",
                    "25",
                    "--seed",
                    str(1000 + self.batches),
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if done.returncode != 0:
                self.errors.append(done.stderr[-2000:])
            self.batches += 1
            self.stop.wait(1)


# ---- the test ----------------------------------------------------------------------------------------------------


def test_the_dags_run_on_a_live_celery_stack_through_a_worker_kill_and_a_backfill(tmp_path):
    started = time.monotonic()
    timeline: list[str] = []

    def note(what: str) -> None:
        timeline.append(f"{time.monotonic() - started:6.1f}s  {what}")

    state = tmp_path / "stack"
    prefix = f"{DB_PREFIX}_stack"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}  # a shell as an operator has it
    env.update(
        {
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
            # a killed worker's task is found within seconds, not the default 5 minutes
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        }
    )
    memory = simulator = None
    try:
        up = stack_script(
            state,
            "up",
            "--port",
            "0",
            "--pg",
            ADMIN_DSN,
            "--db-prefix",
            prefix,
            "--customers",
            "0",
            "--drop-on-failure",
            env=env,
            timeout=400,
        )
        note("stack up")
        assert up.returncode == 0, f"stack up failed:\n{up.stdout[-3000:]}\n{up.stderr[-5000:]}"
        for line in (
            "UI and REST API   http://localhost:",
            "login: admin / ",
            "CeleryExecutor",
            "Celery workers",
            "DAGs unpaused",
        ):
            assert line in up.stdout, up.stdout
        stack = Stack(state)
        memory = MemoryWatch(stack)
        memory.start()
        _check_the_deployment(stack)
        simulator = Simulator(stack.aspire_dsn)
        _phases(stack, simulator, note)
        _daily_refresh_measured(stack, tmp_path / "daily_dag.json")
        note("the daily refresh measured by bench.daily_dag")
    finally:
        if simulator is not None and simulator.ident is not None:
            simulator.stop.set()
            simulator.join(120)
        if memory is not None:
            memory.stop.set()
        recorded = []
        if (state / "pids").exists():
            for pid_file in (state / "pids").glob("*.pid"):
                try:
                    root = psutil.Process(int(pid_file.read_text()))
                    recorded += [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    pass
        down = stack_script(state, "down", "--drop-databases", env=env, timeout=180)
        note("stack down")
        print("\n".join(timeline))
        if memory is not None:
            print(f"peak memory of the stack (PSS): {memory.peak / 2**20:,.0f} MB")
        print(down.stdout)
        assert down.returncode == 0, down.stderr
        assert not [p for p in recorded if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], (
            "processes of the stack still run after stack down"
        )
        with psycopg.connect(ADMIN_DSN) as admin:
            left = admin.execute(
                "select datname from pg_database where starts_with(datname, %s)", (f"{prefix}_",)
            ).fetchall()
        assert not left, f"databases left behind: {left}"
        import redis

        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        try:
            assert not list(client.scan_iter(match=f"{prefix}:*")), "Redis keys of the stack left behind"
        except redis.ConnectionError:
            pass  # the stack ran its own redis-server
        finally:
            client.close()


def _daily_refresh_measured(stack: Stack, out: Path) -> None:
    """`python -m bench.daily_dag` (the benchmark of the daily refresh DAG) on this stack: one run measured, its
    tasks and each running worker's memory reported, and every DAG paused or not as it was before."""
    paused = {d["dag_id"]: d["is_paused"] for d in stack.get("/api/v2/dags?limit=100")["dags"]}
    done = subprocess.run(
        [sys.executable, "-m", "bench.daily_dag", "--state", str(stack.state), "--runs", "1", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (
        f"bench.daily_dag: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    (measured,) = json.loads(out.read_text())
    assert measured["state"] == "success"
    assert 0 < measured["tasks_span_seconds"] <= measured["wall_seconds"]
    loads = {f"refresh_{e.name}" for e in catalogue.entities("daily")}
    loads |= {f"reconcile_{e.name}" for e in catalogue.entities("15min")}
    assert loads <= set(measured["tasks"]), measured["tasks"]
    # the worker killed earlier is reported, not sampled
    assert len(measured["workers_not_running"]) == 1, measured
    assert sorted([*measured["peak_rss_mb"], *measured["workers_not_running"]]) == ["worker-1", "worker-2"]
    assert all(mb > 50 for mb in measured["peak_rss_mb"].values()), measured["peak_rss_mb"]
    assert {d["dag_id"]: d["is_paused"] for d in stack.get("/api/v2/dags?limit=100")["dags"]} == paused
    assert f"wall {measured['wall_seconds']:.1f} s" in done.stdout, done.stdout
    # where the CPU went: the tasks under their worker; PostgreSQL's share, by database where a backend was seen (a
    # small stack's backends may all end between two samples)
    cpu = measured["cpu"]
    assert cpu["busy_cpu_seconds"] > 0 and cpu["idle_cpu_seconds"] >= 0, cpu
    assert cpu["Celery workers and their tasks cpu_seconds"] > 0.1, cpu
    postgres = [k for k in cpu if k.startswith(("portal's server", "ASPIRE's server", "PostgreSQL, other"))]
    assert sum(cpu[k] for k in postgres) > 0.1, cpu
    parts = sum(v for k, v in cpu.items() if k.endswith(" cpu_seconds") and not k.startswith(("busy", "idle")))
    assert parts <= cpu["busy_cpu_seconds"] * 1.05 + 1, cpu
    assert "CPU: " in done.stdout, done.stdout


def _check_the_deployment(stack: Stack) -> None:
    """What `make stack` promises: Celery, the settings of airflow_settings.yaml, every DAG parsed and unpaused."""
    dags = {d["dag_id"]: d for d in stack.get("/api/v2/dags?limit=100")["dags"]}
    assert set(SYNC_DAGS) <= set(dags), sorted(dags)
    assert not [d for d in dags.values() if d["is_paused"]], "every DAG of the dags folder is unpaused"
    assert stack.get("/api/v2/pools/aspire_source")["slots"] == 4
    assert stack.get("/api/v2/variables/aspire_portal_max_full_sync_triggers_per_run")["value"] == "25"
    assert {c["connection_id"] for c in stack.get("/api/v2/connections")["connections"]} >= {"aspire", "portal"}
    workers = stack.airflow("celery", "list-workers")
    assert all(hostname in workers for hostname in stack.data["workers"].values()), workers
    assert stack.env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def _phases(stack: Stack, simulator: Simulator, note) -> None:
    aspire_dsn, portal_dsn = stack.aspire_dsn, stack.portal_dsn
    # The first scheduled incremental run (made when the DAG was unpaused) sets the watermarks.
    first_run = wait_until(
        "the first scheduled incremental run",
        lambda: sorted(
            (r for r in stack.runs(INCREMENTAL) if r["run_type"] == "scheduled" and r["state"] == "success"),
            key=lambda r: r["data_interval_end"],
        ),
        180,
        2,
    )[0]
    note(f"first scheduled incremental run done: {first_run['dag_run_id']}")
    # This test triggers the full syncs itself, through the REST API, as the portal does; the incremental's
    # self-healing triggers (tested in test_incremental.py) would add full syncs of every enrolled customer.
    status, body = stack.call(
        "PATCH",
        "/api/v2/variables/aspire_portal_max_full_sync_triggers_per_run",
        {"key": "aspire_portal_max_full_sync_triggers_per_run", "value": "0"},
    )
    assert status == 200, body
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        # A backend whose client died notices within a second even while it waits for a lock (PostgreSQL 14+).
        admin.execute(
            sql.SQL("alter database {} set client_connection_check_interval = '1s'").format(
                sql.Identifier(stack.data["databases"][2])
            )
        )

    def enroll(count: int) -> list[int]:
        """New portal users for `count` customers, by the emulator's command line."""
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "aspire_emulator",
                "--aspire",
                aspire_dsn,
                "--portal",
                portal_dsn,
                "enroll",
                "--count",
                str(count),
                "--seed",
                "11",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        customers = [int(c) for c in re.search(r"enrolled: ([\d ]+)", done.stdout).group(1).split()]
        assert len(customers) == count
        return customers

    enroll(27)

    with psycopg.connect(portal_dsn) as lock, psycopg.connect(portal_dsn, autocommit=True) as portal:
        mark_before = lock.execute(
            "select high_water_mark from aspire_sync.watermark where entity = 'invoice' for update"
        ).fetchone()[0]
        holder = lock.info.backend_pid

        # Phase 1: the simulator writes; an incremental run's load_invoice reads, stages and merges the rows of the
        # 27 customers (new in its scope) and what changed, then waits on the watermark row lock. (Usually the
        # manual run's; a scheduled run may come first: the DAG runs one run at a time.)
        simulator.start()
        manual_run = stack.trigger(INCREMENTAL)

        def victim_waits():
            waiting = portal.execute(
                "select pid from pg_stat_activity where %s = any(pg_blocking_pids(pid))", (holder,)
            ).fetchall()
            running = stack.get(
                f"/api/v2/dags/{INCREMENTAL}/dagRuns/~/taskInstances?task_id={VICTIM_TASK}&state=running"
            )["task_instances"]
            return waiting and running and running[0].get("pid") and (waiting[0][0], running[0])

        blocked_backend, task = wait_until(
            "an incremental run's load_invoice to wait on the watermark lock", victim_waits, 180
        )
        victim_run = task["dag_run_id"]
        assert task["try_number"] == 1
        victim = psutil.Process(task["pid"])
        workers = {name: stack.worker(name) for name in stack.data["workers"]}
        killed_name = next(name for name, worker in workers.items() if worker in victim.parents())
        killed, survivor = workers[killed_name], next(w for n, w in workers.items() if n != killed_name)
        note(f"{VICTIM_TASK} (pid {victim.pid}) waits on the lock, on {killed_name}; draining it")
        hostname = stack.data["workers"][killed_name]
        stack.airflow("celery", "remove-queue", "--queues", stack.data["prefix"], "--celery-hostname", hostname)
        wait_until(
            f"{hostname} to leave the queue",
            lambda: (
                not [
                    line
                    for line in stack.airflow("celery", "list-workers").splitlines()
                    if hostname in line and stack.data["prefix"] in line.replace(hostname, "")
                ]
            ),
            60,
        )

        # Phase 2, while that run waits: three more customers get portal users and their full syncs are triggered
        # through the REST API, as the portal does, with the daily refresh (its invoice reconciliation waits for
        # the incremental's load: the two take turns on an entity).
        full_syncs = {stack.trigger(FULL_SYNC, {"customer_id": c}): FULL_SYNC for c in enroll(3)}
        daily = stack.trigger(DAILY)
        note(f"triggered {len(full_syncs)} full syncs and daily refresh {daily}")

        def waiting_on_a_lock(process: psutil.Process) -> bool:
            """Whether the task process's database sessions include one waiting for a lock (a load of the same
            rows behind the waiting one)."""
            try:
                ports = [
                    c.laddr.port for c in process.net_connections(kind="tcp") if c.raddr and c.raddr.port == PG_PORT
                ]
            except psutil.NoSuchProcess:
                return False
            return bool(ports) and bool(
                portal.execute(
                    "select 1 from pg_stat_activity where wait_event_type = 'Lock' and client_port = any(%s)", (ports,)
                ).fetchone()
            )

        def drained() -> list[psutil.Process] | None:
            """The drained worker's task processes once each is the waiting load or waits for a lock (nothing
            else will start there: prefetch is one message per pool process)."""
            running = task_processes(killed)
            if victim in running and all(p == victim or waiting_on_a_lock(p) for p in running):
                return running
            return None

        blocked = wait_until(
            "the drained worker to run only the waiting load and loads waiting behind it",
            lambda: drained() and time.sleep(2) is None and drained(),
            90,
        )
        tree = [killed, *killed.children(recursive=True)]
        for process in tree:
            process.send_signal(signal.SIGKILL)
        psutil.wait_procs(tree, timeout=10)
        note(
            f"killed {killed_name} with SIGKILL: {len(tree)} processes, {len(blocked) - 1} other task(s) waiting "
            "behind the load among them"
        )
        wait_until(
            "PostgreSQL to end the killed load's session",
            lambda: not portal.execute("select 1 from pg_stat_activity where pid = %s", (blocked_backend,)).fetchone(),
            30,
        )
        lock.rollback()  # the lock is released only after the killed load's transaction is gone
        assert (
            portal.execute("select high_water_mark from aspire_sync.watermark where entity = 'invoice'").fetchone()[0]
            == mark_before
        ), "the killed load's watermark must not have committed"
        assert portal.execute(
            "select status from aspire_sync.run_log where run_id = %s and task_id = %s", (victim_run, VICTIM_TASK)
        ).fetchall() == [("running",)], "the killed load committed"

        # Phase 3: activity stamped in a past window, then a backfill of that window.
        # The window: the first scheduled run's interval (completed: reprocessed) and the one before (no run yet).
        end = datetime.fromisoformat(first_run["data_interval_end"].replace("Z", "+00:00"))
        first, last = end - timedelta(minutes=30), end - timedelta(minutes=15)
        past = portal_app.enrolled_accounts(portal_dsn)[:5]
        with psycopg.connect(aspire_dsn, autocommit=True) as aspire:
            aspire.execute("select set_config('aspire.now', %s, false)", ((last + timedelta(minutes=5)).isoformat(),))
            for account in past:
                simulate.edit_account(aspire, account)
        stack.airflow(
            "backfill",
            "create",
            "--dag-id",
            INCREMENTAL,
            "--from-date",
            first.isoformat(),
            "--to-date",
            last.isoformat(),
            "--reprocess-behavior",
            "completed",
            "--max-active-runs",
            "2",
        )
        note(f"backfill created over [{first:%H:%M}, {end:%H:%M}) UTC after {len(past)} accounts were edited in it")

        # Everything triggered ends; the killed load was retried on the other worker.
        states = wait_for_runs(
            stack, {victim_run: INCREMENTAL, manual_run: INCREMENTAL, daily: DAILY, **full_syncs}, 300
        )
        assert set(states.values()) == {"success"}, states
        spans = {
            run_id: stack.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}")
            for run_id, dag_id in {victim_run: INCREMENTAL, daily: DAILY, **full_syncs}.items()
        }
        full_sync_end = max(spans[run_id]["end_date"] for run_id in full_syncs)
        full_sync_start = min(spans[run_id]["start_date"] for run_id in full_syncs)
        # the incremental ran while the full syncs did (the daily refresh, triggered at the kill, usually too)
        assert spans[victim_run]["start_date"] < full_sync_end and spans[victim_run]["end_date"] > full_sync_start
        note(
            f"the incremental, the full syncs and the daily refresh succeeded; full syncs {full_sync_start[11:19]}"
            f" to {full_sync_end[11:19]}, incremental {spans[victim_run]['start_date'][11:19]} to "
            f"{spans[victim_run]['end_date'][11:19]}, daily {spans[daily]['start_date'][11:19]} to "
            f"{spans[daily]['end_date'][11:19]}"
        )
        backfills = wait_until(
            "the backfill to complete",
            lambda: [b for b in stack.get(f"/api/v2/backfills?dag_id={INCREMENTAL}")["backfills"] if b["completed_at"]],
            240,
            2,
        )
        backfill_runs = {r["dag_run_id"]: r["state"] for r in stack.runs(INCREMENTAL) if r["run_type"] == "backfill"}
        assert len(backfill_runs) == 2 and set(backfill_runs.values()) == {"success"}, (backfills, backfill_runs)
        note(f"backfill {backfills[0]['id']} completed: {sorted(backfill_runs)}")

        tries = stack.get(f"/api/v2/dags/{INCREMENTAL}/dagRuns/{quote(victim_run)}/taskInstances/{VICTIM_TASK}/tries")[
            "task_instances"
        ]
        assert [(t["try_number"], t["state"]) for t in tries] == [(1, "failed"), (2, "success")], tries
        assert tries[0]["pid"] == victim.pid and tries[1]["pid"] != victim.pid
        assert not killed.is_running() and survivor.is_running()  # so the retry ran on the other worker
        events = stack.get(f"/api/v2/eventLogs?dag_id={INCREMENTAL}&task_id={VICTIM_TASK}&limit=100")["event_logs"]
        assert [e for e in events if e["event"] == "heartbeat timeout" and e["run_id"] == victim_run], events

        with portal.cursor(row_factory=psycopg.rows.dict_row) as cur:
            logged = cur.execute(
                "select * from aspire_sync.run_log where run_id = %s and task_id = %s order by run_log_id",
                (victim_run, VICTIM_TASK),
            ).fetchall()
            # the killed attempt once failed (marked by the retry's load), the retry once succeeded
            assert [row["status"] for row in logged] == ["failed", "success"], logged
            assert "process ended before the load did" in logged[0]["error"]
            assert logged[1]["rows_read"] > 0
            backfilled = cur.execute(
                "select entity, sum(rows_read) as rows_read from aspire_sync.run_log where load_kind = 'backfill' "
                "and status = 'success' group by entity"
            ).fetchall()
        read = {row["entity"]: row["rows_read"] for row in backfilled}
        assert read.get("account", 0) >= len(past), read  # the accounts edited in the window
        simulator.stop.set()
        simulator.join(120)
        assert not simulator.errors, simulator.errors
        assert simulator.batches > 0
        note(f"simulator stopped after {simulator.batches} batches of 25 events")

        # Phase 4: ASPIRE quiet, every run ended, one more daily refresh: the portal equals the oracle.
        with psycopg.connect(aspire_dsn, autocommit=True) as aspire:
            settle(aspire)
        wait_until(
            "every run of the sync DAGs to end",
            lambda: all(r["state"] in TERMINAL for dag_id in SYNC_DAGS for r in stack.runs(dag_id)),
            240,
            2,
        )
        final = stack.trigger(DAILY)
        assert wait_for_runs(stack, {final: DAILY}, 240) == {final: "success"}
        note("final daily refresh succeeded")
        with psycopg.connect(aspire_dsn) as aspire:
            counts = assert_portal_equals_source(aspire, portal, portal_app.enrolled_accounts(portal_dsn))
        assert counts["invoice"] > 0 and counts["amortization_line"] > 0, counts
        note(f"the portal equals the oracle: {sum(counts.values()):,} rows in 12 entities")

        # Phase 5: a payment, away from any */15 tick, reaches the portal through a run the change watcher started.
        def before_the_next_tick() -> float:
            now = datetime.now()
            return 900 - (now.minute % 15 * 60 + now.second)

        # and no incremental run queued or running: a tick's run held back (behind a longer run, on a busy machine)
        # would read the payment too, and may be the one that brings it
        def quiet() -> bool:
            if not 100 < before_the_next_tick() < 870:
                return False
            return not [r for r in stack.runs(INCREMENTAL) if r["state"] in ("queued", "running")]

        wait_until("a quiet part of the */15 cycle, no incremental run queued or running", quiet, 400)
        with psycopg.connect(aspire_dsn) as aspire:
            invoice = aspire.execute(
                "select min(invoiceoid) from dbo.invoice where accountoid = any(%s) and balance > 0 "
                "and status in ('Open', 'PartiallyPaid')",
                (portal_app.enrolled_accounts(portal_dsn),),
            ).fetchone()[0]
        receipt = simulate.post_receipt(aspire_dsn, invoice)["CashReceipt"][0]
        committed = time.monotonic()
        wait_until(
            "the payment in the portal",
            lambda: portal.execute("select 1 from aspire.cash_receipt where receipt_oid = %s", (receipt,)).fetchone(),
            90,
            0.5,
        )
        latency = time.monotonic() - committed
        # the load that brought it (the newest receipts load that read a row): a run the watcher started, whether it
        # was started for this payment or was starting when it committed
        brought_by = portal.execute(
            "select run_id from aspire_sync.run_log where entity = 'cash_receipt' and load_kind = 'incremental' "
            "and status = 'success' and rows_read > 0 order by run_log_id desc limit 1"
        ).fetchone()[0]
        assert brought_by.startswith("asset_triggered__"), brought_by
        note(f"a payment reached the portal {latency:.0f} s after its commit, through {brought_by}")
