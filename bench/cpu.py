"""CPU seconds from /proc: of one process, and of the whole machine (busy and idle, every core summed)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import NamedTuple

import psutil

from scripts.stack import process_tree


def process_seconds(pid: int) -> float:
    """User and system CPU seconds of process `pid` (a server process on this machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Machine(NamedTuple):
    busy: float
    idle: float

    def __sub__(self, before: Machine) -> Machine:  # type: ignore[override]
        return Machine(self.busy - before.busy, self.idle - before.idle)

    @property
    def share_busy(self) -> float:
        return self.busy / max(self.busy + self.idle, 1e-9)


def machine() -> Machine:
    """The machine's busy and idle CPU seconds so far (/proc/stat). Idle counts iowait; busy is the rest, without
    guest and guest_nice, which the kernel already counts in user and nice."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return Machine(sum(times) - idle - guest, idle)


class Stopwatch:
    """`with Stopwatch() as clock:` the block's wall seconds and the machine's busy CPU seconds over it
    (`clock.seconds`, `clock.busy`)."""

    seconds = busy = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter(), machine().busy
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self._started[0]
        self.busy = machine().busy - self._started[1]


def tree_seconds(root: psutil.Process) -> float | None:
    """CPU seconds (user + system) a process tree has used: each living member's own and those of the children it
    reaped. A member that ended is in its parent's reaped children, so the difference over a span misses nothing
    that ended inside the tree. None when the root is gone."""
    members = process_tree(root)
    if not members:
        return None
    total = 0.0
    for member in members:
        try:
            times = member.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def tree_totals(roots: list[psutil.Process]) -> dict[tuple[int, float], float]:
    """tree_seconds of each root still running, by its pid and start time (a pid given again to a new process is
    another root): what `spent` compares."""
    found = {}
    for root in roots:
        if root.is_running() and (seconds := tree_seconds(root)) is not None:
            found[root.pid, root.create_time()] = seconds
    return found


def postgres_roots() -> list[psutil.Process]:
    """Every PostgreSQL server's postmaster on this machine (a postgres process whose parent is not one)."""
    roots = []
    for process in psutil.process_iter(["name"]):
        try:
            if process.info["name"] not in ("postgres", "postmaster"):
                continue
            parent = process.parent()
            if parent is None or parent.name() not in ("postgres", "postmaster"):
                roots.append(process)
        except psutil.Error:
            continue
    return roots


def postgres_seconds() -> dict[tuple[int, float], float]:
    """CPU seconds every PostgreSQL server on this machine has used (backends, parallel workers, background), by
    server (its postmaster's pid and start time)."""
    return tree_totals(postgres_roots())


def spent(before: dict, after: dict) -> float:
    """What the trees (tree_totals) in both `before` and `after` used in between; one started or stopped in between
    is left out."""
    return sum(after[key] - before[key] for key in before.keys() & after.keys())
