"""CPU seconds from /proc: of one process, and of the whole machine (busy and idle, every core summed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import psutil


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


def tree_seconds(root: psutil.Process) -> float:
    """CPU seconds (user + system) a process tree has used: each living member's own and those of the children it
    reaped. A member that ended is in its parent's reaped children, so the difference over a span misses nothing
    that ended inside the tree."""
    try:
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for member in members:
        try:
            times = member.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


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
    found = {}
    for root in postgres_roots():
        try:
            found[root.pid, root.create_time()] = tree_seconds(root)
        except psutil.Error:
            continue
    return found


def spent(before: dict, after: dict) -> float:
    """What the servers (or trees) in both `before` and `after` used in between; one started or stopped in between
    is left out."""
    return sum(after[key] - before[key] for key in before.keys() & after.keys())
