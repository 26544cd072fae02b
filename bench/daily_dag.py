"""`python -m bench.daily_dag --state DIR`: the daily refresh DAG's wall time on a running stack, with each worker's
peak memory, against the limit's per-entity refresh times.

On a stack `scripts/stack.py up` started (its state directory), through the deployment's own REST API: the other
DAGs are paused (so that nothing else shares the workers; they are unpaused again at the end), the portal is loaded
by one incremental run first when `--load-first` (a daily refresh of an empty portal is an initial load, not what is
measured), then `aspire_portal_daily_refresh` is triggered `--runs` times, one after the other. While each runs, the
memory of every Celery worker's process tree (the worker and the task processes it forks) is sampled every
`--sample` seconds: the peak of the tree's RSS and the largest single process. And the machine's CPU is accounted
(CpuAccount): busy and idle seconds, and where the busy ones went (the portal's and ASPIRE's servers, the workers with
their tasks, each Airflow service, the rest).

Per run it prints the run's wall time (the DAG run's start to its end, as Airflow records them), the span of its
tasks (the first task's start to the last one's end), the sum of the tasks' durations, the longest tasks, the peak
memory per worker and the CPU by part. The
limit's per-entity refresh times come from `make bench` (`bench/results/<size>-limit-refresh.json`); the target is
0.7 of their sum.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from bench import cpu
from scripts.stack import State, alive, process_tree

REPO = Path(__file__).resolve().parents[1]
DAILY = "aspire_portal_daily_refresh"
INCREMENTAL = "aspire_portal_incremental"
TARGET = 0.7


class Stack:
    """The REST API of the stack recorded in `state` (a token from POST /auth/token, as the admin)."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.data = json.loads((state / "stack.json").read_text())
        self.url = self.data["url"]
        passwords = json.loads((state / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())
        self.token = None
        self.token = self.call("POST", "/auth/token", {"username": "admin", "password": passwords["admin"]})[
            "access_token"
        ]

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {self.token}"} if self.token else {}),
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{method} {path}: HTTP {error.code}: {error.read()[:500]!r}") from error

    def run(self, dag_id: str, timeout: float, samplers: tuple[Sampling, ...] = ()) -> dict:
        """Triggers a run of `dag_id` and waits for it to end; the run as the API reports it, with its tasks."""
        for sampler in samplers:  # before the trigger: the run's first task may start at once
            sampler.start()
        try:
            run_id = self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": {}})[
                "dag_run_id"
            ]
            path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
            deadline = time.monotonic() + timeout
            while (run := self.call("GET", path))["state"] not in ("success", "failed"):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{dag_id} run {run_id} did not end within {timeout:.0f} s")
                time.sleep(0.5)
        finally:
            for sampler in samplers:
                sampler.stop()
        run["tasks"] = self.call("GET", f"{path}/taskInstances?limit=100")["task_instances"]
        return run

    def pause(self, dag_id: str, paused: bool) -> None:
        self.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def dags(self) -> dict[str, bool]:
        return {d["dag_id"]: d["is_paused"] for d in self.call("GET", "/api/v2/dags?limit=100")["dags"]}


class Sampling:
    """A thread that samples (`_sample`, until `_stop` is set) between start() and stop()."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _sample(self) -> None:
        raise NotImplementedError


class Sampler(Sampling):
    """Every Celery worker's process tree, sampled in a thread: per worker the peak of the tree's summed RSS, and
    the largest single process seen."""

    def __init__(self, state: Path, interval: float) -> None:
        super().__init__()
        self.workers: dict[str, psutil.Process] = {}
        self.not_running: list[str] = []  # recorded, but gone (killed, or stopped)
        for name, recorded in sorted(State(state).processes().items()):
            if not name.startswith("worker-"):
                continue
            process = alive(recorded)
            if process is None:
                self.not_running.append(name)
            else:
                self.workers[name] = process
        self.interval = interval
        self.peak = dict.fromkeys(self.workers, 0)
        self.largest = dict.fromkeys(self.workers, 0)

    def start(self) -> None:
        self.peak = dict.fromkeys(self.workers, 0)
        self.largest = dict.fromkeys(self.workers, 0)
        super().start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, worker in self.workers.items():
                total = 0
                for process in process_tree(worker):
                    try:
                        rss = process.memory_info().rss
                    except psutil.NoSuchProcess:
                        continue
                    total += rss
                    self.largest[name] = max(self.largest[name], rss)
                self.peak[name] = max(self.peak[name], total)
            self._stop.wait(self.interval)


class CpuAccount(Sampling):
    """Where the machine's CPU went while a run ran, against the machine's busy and idle seconds (/proc/stat).

    Process trees are summed exactly (tree_seconds at the start and at the end): the Celery workers with their task
    processes, Airflow's services (scheduler, dag-processor, triggerer, api-server), every PostgreSQL server, this
    tool. PostgreSQL's share is split by database from its backends, sampled every `interval` in a thread (a backend
    counts from the first sample, or from its start when it started since); what a backend spent after the last
    sample before it ended is not seen by database and stays in "PostgreSQL, other". The rest of the busy seconds is
    "other processes"."""

    PARTS = (
        "portal's server",
        "ASPIRE's server (emulator)",
        "Celery workers and their tasks",
        "Airflow's services",
        "Airflow's metadata database",
        "PostgreSQL, other (background, other databases, backends ended between samples)",
        "this tool",
        "other processes",
    )

    def __init__(self, state: Path, data: dict, interval: float) -> None:
        super().__init__()
        self.recorded = State(state).processes()
        prefix = data["prefix"]
        self.databases = {
            f"{prefix}_portal": self.PARTS[0],
            f"{prefix}_aspire": self.PARTS[1],
            f"{prefix}_airflow": self.PARTS[4],
        }
        self.interval = interval
        self.seconds: dict[str, float] = {}
        self.services: dict[str, float] = {}  # Airflow's services one by one
        self.busy = self.idle = 0.0

    def database_part(self, backend: psutil.Process, seen: dict[int, str] | None = None) -> str | None:
        """The part of a backend by its database. Its title: "postgres: [<cluster_name>:] <user> <database> …", or
        "… autovacuum worker <database>"; a parallel worker ("… parallel worker for PID <leader>") is its leader's,
        when `seen` (pid -> part of the backends seen) knows the leader."""
        words = " ".join(backend.cmdline()).split()
        if "parallel" in words[1:4] and words[-2:-1] == ["PID"] and words[-1].isdigit():
            return (seen or {}).get(int(words[-1]))
        return next((self.databases[w] for w in words[1:5] if w in self.databases), None)

    def start(self) -> None:
        self.seconds, self.services, self.busy, self.idle = {}, {}, 0.0, 0.0
        super().start()

    def trees(self) -> dict[str, list[psutil.Process]]:
        """The roots of each exactly summed part (a recorded process that is gone is left out)."""
        roots: dict[str, list[psutil.Process]] = {self.PARTS[2]: []}
        for name, recorded in self.recorded.items():
            process = alive(recorded)
            if process is not None:
                roots.setdefault(self.PARTS[2] if name.startswith("worker-") else f"service:{name}", []).append(process)
        roots["PostgreSQL"] = cpu.postgres_roots()
        roots[self.PARTS[6]] = [psutil.Process()]
        return roots

    def _sample(self) -> None:
        machine = cpu.machine()
        trees = self.trees()
        before = {part: cpu.tree_totals(roots) for part, roots in trees.items()}
        # keyed by pid and start time: a pid the system gives again to a new process is another process
        first: dict[tuple[int, float], float] = {}
        last: dict[tuple[int, float], tuple[str, float]] = {}
        first_sample = True
        while True:
            seen = {pid: part for (pid, _started), (part, _used) in last.items()}
            for process in psutil.process_iter(["name"]):
                if process.info["name"] not in ("postgres", "postmaster"):
                    continue
                try:
                    key = (process.pid, process.create_time())
                    part = last[key][0] if key in last else self.database_part(process, seen)
                    if part is None:
                        continue
                    times = process.cpu_times()
                except (psutil.Error, OSError):  # ended meanwhile
                    continue
                used = times.user + times.system
                # a backend there at the first sample counts from it; one started since, from its start
                first.setdefault(key, used if first_sample else 0.0)
                last[key] = (part, used)
                seen[process.pid] = part
            first_sample = False
            if self._stop.wait(self.interval):
                break
        # a root gone since the start (a worker killed) is left out
        spent_by_tree = {part: cpu.spent(before[part], cpu.tree_totals(roots)) for part, roots in trees.items()}
        self.busy, self.idle = cpu.machine() - machine
        self.seconds = dict.fromkeys(self.PARTS, 0.0)
        for key, (part, used) in last.items():
            self.seconds[part] += used - first[key]
        self.services = {p.removeprefix("service:"): t for p, t in spent_by_tree.items() if p.startswith("service:")}
        for part, spent in spent_by_tree.items():
            if part.startswith("service:"):
                self.seconds[self.PARTS[3]] += spent
            elif part == "PostgreSQL":
                by_database = sum(self.seconds[self.databases[d]] for d in self.databases)
                self.seconds[self.PARTS[5]] = max(spent - by_database, 0.0)
            else:
                self.seconds[part] = spent
        self.seconds[self.PARTS[7]] = max(self.busy - sum(self.seconds.values()), 0.0)

    def summary(self) -> dict[str, float]:
        return {
            "busy_cpu_seconds": self.busy,
            "idle_cpu_seconds": self.idle,
            **{f"{part} cpu_seconds": seconds for part, seconds in self.seconds.items()},
            "services_cpu_seconds": dict(self.services),
        }


def seconds_between(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def limit_refresh(size: str) -> tuple[float, dict[str, float]] | None:
    """The sum of the limit's per-entity refresh seconds `make bench` wrote for `size`, and each."""
    path = REPO / "bench" / "results" / f"{size}-limit-refresh.json"
    if not path.exists():
        return None
    entities = {name: e["seconds"] for name, e in json.loads(path.read_text())["entities"].items()}
    return sum(entities.values()), entities


def report(
    run: dict, sampler: Sampler, account: CpuAccount, limit: tuple[float, dict[str, float]] | None
) -> dict[str, Any]:
    tasks = [t for t in run["tasks"] if t.get("start_date")]
    wall = seconds_between(run.get("start_date"), run.get("end_date"))
    span = seconds_between(min(t["start_date"] for t in tasks), max(t["end_date"] for t in tasks)) if tasks else 0.0
    durations = sorted(((t.get("duration") or 0.0, t["task_id"]) for t in tasks), reverse=True)
    summary = {
        "run_id": run["dag_run_id"],
        "state": run["state"],
        "wall_seconds": wall,
        "tasks_span_seconds": span,
        "tasks_seconds": sum(d for d, _t in durations),
        "tasks": {t: d for d, t in durations},
        "peak_rss_mb": {name: peak / 2**20 for name, peak in sampler.peak.items()},
        "largest_process_mb": {name: largest / 2**20 for name, largest in sampler.largest.items()},
        "workers_not_running": sampler.not_running,
        "cpu": account.summary(),
    }
    print(
        f"{run['dag_run_id']}: {run['state']}, wall {wall:.1f} s (tasks from first start to last end {span:.1f} s), "
        f"the tasks' durations sum to {summary['tasks_seconds']:.1f} s"
    )
    print("  longest tasks: " + ", ".join(f"{t} {d:.1f} s" for d, t in durations[:6]))
    peaks = [
        f"{name} {summary['peak_rss_mb'][name]:,.0f} MB (largest process {summary['largest_process_mb'][name]:,.0f} MB)"
        for name in sampler.peak
    ]
    print("  peak RSS per worker (process tree): " + ", ".join(peaks))
    if sampler.not_running:
        print(f"  recorded but not running, not sampled: {', '.join(sampler.not_running)}")
    parts = sorted(((s, p) for p, s in account.seconds.items() if s >= 0.05), reverse=True)
    share = cpu.Machine(account.busy, account.idle).share_busy
    print(
        f"  CPU: {account.busy:.1f} s busy, {account.idle:.1f} s idle ({share:.0%} busy): "
        + ", ".join(f"{p} {s:.1f} s" for s, p in parts)
        + " (Airflow's services: "
        + ", ".join(f"{name} {s:.1f} s" for name, s in account.services.items())
        + ")"
    )
    if limit:
        summary["limit_refresh_seconds"] = limit[0]
        print(
            f"  against the limit's per-entity refresh times (sum {limit[0]:.2f} s): {wall / limit[0]:.2f}x "
            f"(target {TARGET}x = {TARGET * limit[0]:.1f} s)"
        )
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", type=Path, required=True, help="the stack's state directory (scripts/stack.py)")
    parser.add_argument("--runs", type=int, default=3, help="daily refresh runs, one after the other (default 3)")
    parser.add_argument("--load-first", action="store_true", help="one incremental run first, to fill the portal")
    parser.add_argument("--sample", type=float, default=0.5, help="seconds between memory samples (default 0.5)")
    parser.add_argument("--size", default="large", help="which `make bench` limit to compare with (default large)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for each run (default 1800)")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "daily_dag.json", help="where to write the results"
    )
    args = parser.parse_args()
    if not (args.state / "stack.json").exists():
        parser.error(f"no stack recorded in {args.state} (scripts/stack.py --state {args.state} up starts one)")
    stack = Stack(args.state)
    sampler = Sampler(args.state, args.sample)
    account = CpuAccount(args.state, stack.data, args.sample)
    if not sampler.workers:
        parser.error(f"no Celery worker of the stack in {args.state} is running")
    paused_before = stack.dags()
    for dag_id in paused_before:
        stack.pause(dag_id, dag_id != DAILY and dag_id != INCREMENTAL)
    summaries = []
    try:
        stack.pause(INCREMENTAL, not args.load_first)
        if args.load_first:
            loaded = stack.run(INCREMENTAL, args.timeout)
            print(f"the portal loaded by {loaded['dag_run_id']}: {loaded['state']}")
            stack.pause(INCREMENTAL, True)
            if loaded["state"] != "success":
                return 1
        limit = limit_refresh(args.size)
        for _ in range(args.runs):
            summaries.append(report(stack.run(DAILY, args.timeout, (sampler, account)), sampler, account, limit))
    finally:
        for dag_id, paused in paused_before.items():
            stack.pause(dag_id, paused)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summaries, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(s["state"] == "success" for s in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
