"""The benchmarks' CPU accounting (bench.cpu, bench.daily_dag.CpuAccount) against real processes: a child's CPU
counted after it ended, a PostgreSQL backend's after it ended, a backend found by its database and a parallel worker
by its leader. On a server shared with other work, the others' backends only add to PostgreSQL's seconds: that test
is a lower bound there."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench import cpu
from bench.daily_dag import CpuAccount

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5:\n    pass\n"


def test_a_child_that_ended_counts_in_its_parents_tree():
    before = cpu.tree_seconds(psutil.Process())
    subprocess.run([sys.executable, "-c", BURN], check=True)
    assert cpu.tree_seconds(psutil.Process()) - before >= 0.45


def test_a_backend_that_ended_counts_in_postgresql_s_seconds(fresh_database):
    dsn = fresh_database("bench_cpu")
    before = cpu.postgres_seconds()
    with psycopg.connect(dsn) as conn:
        used = cpu.process_seconds(conn.info.backend_pid)
        conn.execute("select count(*) from generate_series(1, 3000000)")
        used = cpu.process_seconds(conn.info.backend_pid) - used
    assert used > 0.1
    deadline = time.monotonic() + 10
    while cpu.spent(before, cpu.postgres_seconds()) < used and time.monotonic() < deadline:
        time.sleep(0.1)  # until the postmaster has reaped the backend
    assert cpu.spent(before, cpu.postgres_seconds()) >= used


def test_a_backend_is_found_by_its_database_and_a_parallel_worker_by_its_leader(fresh_database, tmp_path):
    dsn = fresh_database("bench_cpu_portal")
    (tmp_path / "pids").mkdir()
    account = CpuAccount(tmp_path, {"prefix": conninfo_to_dict(dsn)["dbname"].removesuffix("_portal")}, 0.5)
    with psycopg.connect(dsn, autocommit=True) as conn, psycopg.connect(dsn, autocommit=True) as other:
        leader = psutil.Process(conn.info.backend_pid)
        assert account.database_part(leader) == "portal's server"
        assert account.database_part(psutil.Process(other.info.backend_pid)) == "portal's server"
        other.execute("create table rows_to_scan as select g from generate_series(1, 400) as g")
        for setting in ("parallel_setup_cost", "parallel_tuple_cost", "min_parallel_table_scan_size"):
            conn.execute(f"set {setting} = 0")
        conn.execute("set max_parallel_workers_per_gather = 2")
        scan = threading.Thread(
            target=conn.execute, args=("select count(*) from rows_to_scan where pg_sleep(0.01) is not null",)
        )
        scan.start()
        parts: list[tuple[str | None, str | None]] = []  # each worker's part, with and without its leader known
        deadline = time.monotonic() + 3
        while not parts and time.monotonic() < deadline:
            for p in psutil.process_iter(["name"]):
                try:
                    if p.info["name"] == "postgres" and f"for PID {leader.pid}" in " ".join(p.cmdline()):
                        parts.append(
                            (account.database_part(p, {leader.pid: "portal's server"}), account.database_part(p, {}))
                        )
                except psutil.Error:
                    continue  # a worker that ended meanwhile
            time.sleep(0.05)
        scan.join()
    assert parts, "the server started no parallel worker for the scan (max_parallel_workers all in use?)"
    assert parts[0] == ("portal's server", None)
