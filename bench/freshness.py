"""Freshness end to end, on a running stack (`make stack`): how long a payment posted in ASPIRE takes to reach the
portal, and what the stack spends meanwhile.

    python -m bench.freshness --state .stack --payments 30 --over 300 --quiet 300

Posts `--payments` cash receipts, each against an open invoice of an enrolled customer, at random moments over
`--over` seconds (through the emulator, one ASPIRE transaction each), and records when each receipt appears in the
portal. Then leaves ASPIRE alone for `--quiet` seconds. Reports the commit-to-portal latencies (p50, p95, max), the
incremental's DAG runs by kind (asset-triggered by the change watcher, or scheduled by the */15 floor), and the CPU
seconds per minute of the stack's processes (api-server, scheduler, dag-processor, triggerer, Celery workers and the
task processes that run the sync; PostgreSQL's own backends are not counted, as other work shares that server),
busy and quiet. Writes bench/results/freshness.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

from aspire_emulator import portal as portal_app  # noqa: E402
from aspire_emulator import simulate  # noqa: E402
from aspire_portal import catalogue  # noqa: E402
from bench import cpu  # noqa: E402

RECEIPTS = catalogue.entity("cash_receipt").target_table

# scripts/stack.py, for what it knows of the stack it started: its state folder, processes and databases
_spec = importlib.util.spec_from_file_location("stack_script", REPO / "scripts" / "stack.py")
stack_cli = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stack_cli)


def stack_processes(state: Path) -> list[psutil.Process]:
    """The processes `make stack` started and that still run (a pid reused by another process is not one)."""
    return [p for info in stack_cli.State(state).processes().values() if (p := stack_cli.alive(info))]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """CPU the stack's processes have used: every process of each tree, each with the children it has reaped (a
    task process's time lands in its reaping parent once it ends)."""
    return sum(cpu.tree_totals(processes).values())


def runs_since(airflow_dsn: str, since: datetime) -> dict[str, int]:
    with psycopg.connect(airflow_dsn) as conn:
        rows = conn.execute(
            "select run_type, count(*) from dag_run where dag_id = 'aspire_portal_incremental' and run_after >= %s "
            "group by run_type",
            (since,),
        ).fetchall()
    return {str(kind): count for kind, count in rows}


def settle_runs(airflow_dsn: str, timeout: float = 600) -> None:
    """Waits until no incremental run is queued or running, so the quiet window counts only what quiet starts."""
    time.sleep(10)  # the last commit's event (one poll) and the run it starts (one scheduler loop)
    deadline = time.monotonic() + timeout
    with psycopg.connect(airflow_dsn, autocommit=True) as conn:
        while conn.execute(
            "select count(*) from dag_run where dag_id = 'aspire_portal_incremental' and state in ('queued', 'running')"
        ).fetchone()[0]:
            if time.monotonic() > deadline:
                raise SystemExit("an incremental run is still going after 10 minutes")
            time.sleep(1)


def open_invoices(aspire_dsn: str, portal_dsn: str) -> list[int]:
    accounts = portal_app.enrolled_accounts(portal_dsn)
    with psycopg.connect(aspire_dsn) as aspire:
        return [
            r[0]
            for r in aspire.execute(
                "select invoiceoid from dbo.invoice where accountoid = any(%s) and status in ('Open', 'PartiallyPaid') "
                "and balance > 1 order by invoiceoid",
                (accounts,),
            )
        ]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    stack = stack_cli.State(args.state).load()
    aspire_dsn, portal_dsn, airflow_dsn = (
        stack_cli.database_dsn(stack["admin_dsn"], f"{stack['prefix']}_{n}") for n in ("aspire", "portal", "airflow")
    )
    rng = random.Random(args.seed)
    invoices = open_invoices(aspire_dsn, portal_dsn)
    if len(invoices) < args.payments:
        raise SystemExit(f"only {len(invoices)} open invoices of enrolled customers; ask for fewer payments")
    chosen = rng.sample(invoices, args.payments)
    moments = sorted(rng.uniform(0, args.over) for _ in range(args.payments))
    processes = stack_processes(args.state)
    latencies: list[float] = []
    pending: dict[int, float] = {}
    lock = threading.Lock()
    done = threading.Event()

    def watch_portal() -> None:
        with psycopg.connect(portal_dsn, autocommit=True) as portal:
            while not done.is_set() or pending:
                with lock:
                    waiting = dict(pending)
                if waiting:
                    seen = portal.execute(
                        f"select receipt_oid from {RECEIPTS} where receipt_oid = any(%s)", (list(waiting),)
                    ).fetchall()
                    now = time.monotonic()
                    with lock:
                        for (oid,) in seen:
                            latencies.append(now - pending.pop(oid))
                if done.is_set() and time.monotonic() > deadline:
                    return
                time.sleep(0.25)

    started_at = datetime.now(UTC)
    cpu_start, wall_start = cpu_seconds(processes), time.monotonic()
    deadline = wall_start + args.over + args.give_up
    watcher = threading.Thread(target=watch_portal, daemon=True)
    watcher.start()
    for moment, invoice in zip(moments, chosen, strict=True):
        time.sleep(max(0.0, wall_start + moment - time.monotonic()))
        touched = simulate.post_receipt(aspire_dsn, invoice, rng=rng)
        committed = time.monotonic()  # post_receipt returns after its transaction committed
        with lock:
            pending[touched["CashReceipt"][0]] = committed
    done.set()
    watcher.join()
    busy_seconds = time.monotonic() - wall_start
    busy_cpu = cpu_seconds(processes) - cpu_start
    busy_runs = runs_since(airflow_dsn, started_at)

    settle_runs(airflow_dsn)
    quiet_from = datetime.now(UTC)
    cpu_quiet, quiet_start = cpu_seconds(processes), time.monotonic()
    time.sleep(args.quiet)
    quiet_seconds = time.monotonic() - quiet_start
    quiet_cpu = cpu_seconds(processes) - cpu_quiet
    quiet_runs = runs_since(airflow_dsn, quiet_from)

    ordered = sorted(latencies)
    result = {
        "payments": args.payments,
        "arrived": len(ordered),
        "missing": len(pending),
        "over_seconds": args.over,
        "latency_p50": statistics.median(ordered) if ordered else None,
        "latency_p95": ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)] if ordered else None,
        "latency_max": ordered[-1] if ordered else None,
        "busy": {"seconds": busy_seconds, "runs": busy_runs, "cpu_seconds_per_minute": 60 * busy_cpu / busy_seconds},
        "quiet": {
            "seconds": quiet_seconds,
            "runs": quiet_runs,
            "cpu_seconds_per_minute": 60 * quiet_cpu / quiet_seconds if quiet_seconds else None,
        },
        "latencies": ordered,
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.freshness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", type=Path, default=REPO / ".stack", help="the stack's state folder")
    parser.add_argument("--payments", type=int, default=30)
    parser.add_argument("--over", type=float, default=300, help="seconds over which the payments are posted")
    parser.add_argument("--quiet", type=float, default=300, help="seconds of a quiet ASPIRE measured after")
    parser.add_argument("--give-up", type=float, default=1200, help="seconds after the last payment to stop waiting")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "freshness.json")
    args = parser.parse_args(argv)
    result = measure(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    fmt = "{:.1f}".format
    print(
        f"{result['arrived']}/{result['payments']} payments reached the portal; commit to portal: "
        f"p50 {fmt(result['latency_p50'])} s, p95 {fmt(result['latency_p95'])} s, max {fmt(result['latency_max'])} s"
    )
    busy, quiet = result["busy"], result["quiet"]
    print(
        f"busy {busy['seconds']:.0f} s: incremental runs {busy['runs']}, stack CPU "
        f"{busy['cpu_seconds_per_minute']:.1f} s/min"
    )
    print(
        f"quiet {quiet['seconds']:.0f} s: incremental runs {quiet['runs']}, stack CPU "
        f"{quiet['cpu_seconds_per_minute']:.1f} s/min"
    )
    print(f"wrote {args.out}")
    return 0 if result["missing"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
