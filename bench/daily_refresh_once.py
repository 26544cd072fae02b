"""The daily refresh once, timed: the 12 full loads of `aspire_portal_daily_refresh` run with load_entity
directly (no Airflow), printing per entity the rows read/written, seconds, rows/s and the process's peak RSS.

    python bench/daily_refresh_once.py --aspire DSN --portal DSN [--prepare medium] [--enroll-fraction 0.25]
                                       [--passes 2] [--simulate 2000] [--rebaseline]

DSNs default to $ASPIRE_DSN and $PORTAL_DSN. `--prepare SIZE` first re-creates the emulator in the ASPIRE
database (OVERWRITES it), empties the portal's `aspire`/`aspire_sync` schemas and enrols that fraction of the
customers; it runs `python -m aspire_emulator` in child processes, so the generator's memory does not count in
this process's peak RSS. Pass 1 into an empty portal is the initial load; later passes are the daily refresh
of a full portal (`--simulate N` ASPIRE transactions before each of them, default none: an unchanged ASPIRE).
`--rebaseline`: the later passes are re-baselines (what the daily refresh runs with `rebaseline` after ASPIRE went
back in time: the timeline's start and finish, the 12 loads with ASPIRE winning whatever its row versions).
Peak RSS is resource.getrusage(RUSAGE_SELF).ru_maxrss: the process's high-water mark so far, after each entity.
Per load, its phases' seconds (streaming into the stage, merge, delete, the drift comparisons) and the CPU seconds of
its ASPIRE and portal backends and of this process (/proc); per pass, the CPU seconds of every PostgreSQL process on
this machine (parallel workers and background work included) and the machine's busy and idle seconds (/proc/stat).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

import psycopg  # noqa: E402

from aspire_portal import catalogue, migrations, model, timeline  # noqa: E402
from aspire_portal.load import load_entity  # noqa: E402
from bench import cpu  # noqa: E402

DAG_ID = "aspire_portal_daily_refresh"
# the DAG's order: the five daily refreshes, then the reconciliation of the seven 15-minute entities
ORDER = catalogue.entities("daily") + catalogue.entities("15min")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def emulator(aspire: str, portal: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "aspire_emulator", "--aspire", aspire, "--portal", portal, "-q", *args],
        check=True,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )


def prepare(aspire: str, portal: str, size: str, fraction: float, seed: int) -> None:
    started = time.perf_counter()
    emulator(aspire, portal, "create", "--size", size, "--seed", str(seed))
    with psycopg.connect(aspire) as conn:
        customers = conn.execute(
            "select count(distinct accountoid) from dbo.contractrole where roletype = 'Customer'"
        ).fetchone()[0]
    with psycopg.connect(portal, autocommit=True) as conn:
        conn.execute("drop schema if exists aspire cascade")
        conn.execute("drop schema if exists aspire_sync cascade")
        conn.execute("truncate portal.portal_user_account, portal.portal_user")
    emulator(aspire, portal, "enroll", "--count", str(round(customers * fraction)), "--seed", str(seed))
    print(
        f"prepared a {size} emulator, {round(customers * fraction)} of {customers} customers enrolled, "
        f"in {time.perf_counter() - started:.0f}s"
    )


COLUMNS = (  # header, width, format
    ("entity", 18, ""),
    ("read", 9, ""),
    ("inserted", 9, ""),
    ("updated", 9, ""),
    ("deleted", 8, ""),
    ("seconds", 8, ".2f"),
    ("rows/s", 8, ".0f"),
    ("stream s", 9, ".2f"),
    ("merge s", 8, ".2f"),
    ("delete s", 9, ".2f"),
    ("reconcile s", 12, ".2f"),
    ("CPU portal", 11, ".2f"),
    ("CPU ASPIRE", 11, ".2f"),
    ("CPU here", 9, ".2f"),
    ("peak RSS MB", 12, ".1f"),
)


def line(values: list, header: bool = False) -> str:
    return "        " + " ".join(
        f"{v:<{w}}" if n == "entity" else f"{v:>{w}}" if header else f"{v:>{w}{f}}"
        for (n, w, f), v in zip(COLUMNS, values, strict=True)
    )


def one_pass(aspire: str, portal: str, number: int, reconcile: bool = True, rebaseline: bool = False) -> None:
    """The twelve loads once; per entity its rows, seconds (in all, and its phases), and the CPU seconds of the
    load's portal and ASPIRE backends (the leaders: a parallel worker's are in the pass's PostgreSQL total) and of
    this process."""
    run = model.RunContext(dag_id=DAG_ID, run_id=f"bench_daily_refresh_{int(time.time())}_{number}")
    print("\n" + f"pass {number}:".ljust(8) + line([n for n, _w, _f in COLUMNS], header=True)[8:])
    started = time.perf_counter()
    machine, postgres = cpu.machine(), cpu.postgres_seconds()
    totals: list = [0] * (len(COLUMNS) - 2)
    if rebaseline:
        with psycopg.connect(aspire) as source, psycopg.connect(portal, autocommit=True) as target:
            timeline.start_rebaseline(source, target, "postgres")
    with psycopg.connect(portal, autocommit=True) as target:
        for entity in ORDER:
            kind = "refresh" if entity.cadence == "daily" else "reconcile"
            with psycopg.connect(aspire) as source:  # a connection per load, as each task opens its own
                backends = source.info.backend_pid, target.info.backend_pid
                before = *map(cpu.process_seconds, backends), time.process_time()
                result = load_entity(
                    source,
                    target,
                    model.LoadRequest(
                        entity=entity,
                        kind="full",
                        run=model.RunContext(run.dag_id, run.run_id, f"{kind}_{entity.name}"),
                        reconcile=reconcile and not rebaseline,
                        rebaseline=rebaseline,
                    ),
                    dialect="postgres",
                )
                after = *map(cpu.process_seconds, backends), time.process_time()
            aspire_cpu, portal_cpu, here = (b - a for a, b in zip(before, after, strict=True))
            values = [
                result.rows_read,
                result.rows_inserted,
                result.rows_updated,
                result.rows_deleted,
                result.seconds,
                None,
                result.seconds_extract,
                result.seconds_merge,
                result.seconds_delete,
                result.seconds_reconcile or 0.0,
                portal_cpu,
                aspire_cpu,
                here,
            ]
            totals = [t + (v or 0) for t, v in zip(totals, values, strict=True)]
            values[5] = result.rows_read / max(result.seconds, 1e-9)
            print(line([entity.name, *values, peak_rss_mb()]))
    if rebaseline:
        with psycopg.connect(aspire) as source, psycopg.connect(portal, autocommit=True) as target:
            timeline.finish_rebaseline(source, target, "postgres")
    machine, postgres = cpu.machine() - machine, cpu.spent(postgres, cpu.postgres_seconds())
    seconds = time.perf_counter() - started
    totals[4], totals[5] = seconds, totals[0] / seconds
    print(line(["total", *totals, peak_rss_mb()]))
    print(
        f"        CPU: every PostgreSQL process {postgres:.1f} s (the loads' backends, their parallel workers, "
        f"background work; a server started or stopped meanwhile left out); the machine {machine.busy:.1f} s busy, "
        f"{machine.idle:.1f} s idle ({machine.share_busy:.0%} of its {os.cpu_count()} cores)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aspire", default=os.environ.get("ASPIRE_DSN"), help="ASPIRE emulator DSN ($ASPIRE_DSN)")
    parser.add_argument("--portal", default=os.environ.get("PORTAL_DSN"), help="portal DSN ($PORTAL_DSN)")
    parser.add_argument(
        "--prepare",
        choices=["small", "medium", "large"],
        help="re-create the emulator at this size and enrol customers first (overwrites both)",
    )
    parser.add_argument("--enroll-fraction", type=float, default=0.25, help="with --prepare (default 0.25)")
    parser.add_argument("--seed", type=int, default=42, help="with --prepare (default 42)")
    parser.add_argument("--passes", type=int, default=2, help="how many times to run the 12 loads (default 2)")
    parser.add_argument(
        "--simulate",
        type=int,
        default=0,
        metavar="N",
        help="ASPIRE transactions to simulate before each pass after the first (default 0)",
    )
    parser.add_argument(
        "--no-reconcile",
        action="store_true",
        help="skip the drift measurement the DAG's loads make (to measure what it costs)",
    )
    parser.add_argument(
        "--rebaseline", action="store_true", help="the passes after the first are re-baselines (after a restore)"
    )
    args = parser.parse_args()
    if not args.aspire or not args.portal:
        parser.error("give --aspire and --portal (or set ASPIRE_DSN and PORTAL_DSN)")
    if not 0 < args.enroll_fraction <= 1:
        parser.error("--enroll-fraction must be in (0, 1]")
    if args.prepare:
        prepare(args.aspire, args.portal, args.prepare, args.enroll_fraction, args.seed)
    with psycopg.connect(args.portal, autocommit=True) as target:
        migrations.migrate(target)
    print(f"peak RSS before the loads: {peak_rss_mb():.1f} MB")
    for number in range(1, args.passes + 1):
        if number > 1 and args.simulate:
            emulator(args.aspire, args.portal, "simulate", "--events", str(args.simulate), "--seed", str(number))
        one_pass(
            args.aspire, args.portal, number, reconcile=not args.no_reconcile, rebaseline=args.rebaseline and number > 1
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
