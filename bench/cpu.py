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
