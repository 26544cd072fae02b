"""`make bench`: the sync's full and incremental loads side by side with the limit and the peers, on one data set.

Creates the ASPIRE emulator at the chosen size, enrolls 25% of its customers, and measures each method into a
portal of its own, from empty ("initial") and again after 1% of every ASPIRE table changed ("refresh"):
  limit             psql COPY (extract) TO STDOUT | psql COPY FROM STDIN (refresh: staging + merge), in binary and in
                    text format: per entity the faster
  engine            the project's full load of every entity (aspire_portal.load_entity, kind "full")
  engine_typed      the same with the source's values as Python objects, as pymssql hands them in production
  generic_transfer  Airflow common-sql GenericTransfer (get_records -> insert_rows; refresh: replace=True)
  dlt               dlt's sql_database source (pyarrow backend when installed) -> PostgreSQL, write_disposition="merge"
and the 15-minute incremental run with no change and with 1,000 changed rows, the customer full sync of the largest
and the median enrolled customer, and the run after 1% of the enrolled customers were un-enrolled ("exit").
Each measurement runs in its own process. Prints one table and writes it to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from typing import Any

from bench import REPO, RESULTS
from bench.world import World, prepare, touch_in_scope, touch_one_percent, unenroll_share

log = logging.getLogger("bench")

FULL_METHODS = ("limit", "engine", "engine_typed", "generic_transfer", "dlt")
PER_ENTITY = ("engine", "engine_typed", "limit")  # the methods whose loads the report also lists entity by entity
SCOPE_METHODS = ("incremental", "incremental_change_tracking", "incremental_no_key_check", "full_sync", "exit")
INCREMENTAL_CHANGES = 1_000


def measure(world: World, method: str, case: str | int, portal_dsn: str) -> dict[str, Any]:
    """Runs one measurement in its own Python process; its result (see bench.measure)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{world.size}-{method}-{case}.json"
    log_file = RESULTS / f"{world.size}-{method}-{case}.log"
    log.info("measuring %s, %s", method, case)
    with log_file.open("w") as stderr:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.measure",
                method,
                str(case),
                "--source",
                world.source_dsn,
                "--portal",
                portal_dsn,
                "--out",
                str(out),
            ],
            cwd=REPO,
            stdout=stderr,
            stderr=stderr,
        )
    if done.returncode:
        tail = "".join(log_file.read_text().splitlines(keepends=True)[-30:])
        raise RuntimeError(f"{method} ({case}) failed; the end of {log_file}:\n{tail}")
    return json.loads(out.read_text())


def run(world: World, methods: list[str]) -> list[dict[str, Any]]:
    """Every measurement, in the order that keeps them comparable: all initial loads, one 1% change, all
    refreshes; then the incremental runs on a portal of their own."""
    measured: list[dict[str, Any]] = []
    full = [m for m in FULL_METHODS if m in methods]
    portals = {method: world.portal(method) for method in full}
    shutil.rmtree(RESULTS / "dlt", ignore_errors=True)
    for method in full:
        measured.append({"method": method, "case": "initial", **measure(world, method, "initial", portals[method])})
    if full:
        log.info("changed 1%% of ASPIRE's rows: %s", touch_one_percent(world.source_dsn))
    for method in full:
        measured.append({"method": method, "case": "refresh", **measure(world, method, "refresh", portals[method])})
    if "incremental" in methods:
        # the 15-minute run with its key check for rows deleted in ASPIRE, and without it, on the same changes
        optional = ("incremental_change_tracking", "incremental_no_key_check")
        kinds = ["incremental", *(kind for kind in optional if kind in methods)]
        portals = {kind: world.portal(kind) for kind in kinds}
        for kind in kinds:
            measure(world, kind, "prime", portals[kind])  # the first run sets the watermarks
        for kind in kinds:
            measured.append({"method": kind, "case": 0, **measure(world, kind, 0, portals[kind])})
        log.info(
            "changed %d rows of enrolled customers: %s",
            INCREMENTAL_CHANGES,
            touch_in_scope(world.source_dsn, world.scope, INCREMENTAL_CHANGES),
        )
        for kind in kinds:
            measured.append(
                {
                    "method": kind,
                    "case": INCREMENTAL_CHANGES,
                    **measure(world, kind, INCREMENTAL_CHANGES, portals[kind]),
                }
            )
        portal = portals["incremental"]
        if "full_sync" in methods:  # into the portal the incremental runs filled with every enrolled customer
            for case in ("largest", "median"):
                measured.append({"method": "full_sync", "case": case, **measure(world, "full_sync", case, portal)})
        if "exit" in methods:  # the cost of scope exits: 1% of the enrolled customers un-enrolled, one 15-minute run
            log.info("un-enrolled %d customers (1%% of the enrolled)", unenroll_share(portal, world.accounts, 0.01))
            measured.append({"method": "incremental", "case": "exit", **measure(world, "incremental", "exit", portal)})
    return measured


BEATS_THE_LIMIT = 1.05  # a method faster than the limit by more than this is flagged: the limit is meant as a bound
NOISE_SECONDS = 0.05  # ... and by more than this many seconds: a 40 ms load's 1.3x is jitter of a few ms


def rows_of(world: World, measured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The result objects: one per method and case, then one per entity load of the methods in PER_ENTITY (with the
    key "entity"; the limit's also "format" and "plan", the COPY format and the plan it kept)."""

    def rate(seconds: float, rows: int) -> float:
        return round(rows / seconds, 1) if seconds else 0.0

    limit = {m["case"]: m for m in measured if m["method"] == "limit"}
    out, per_entity = [], []
    for m in measured:
        base = limit.get(m["case"]) if not m["method"].startswith(("incremental", "full_sync")) else None
        ratio = rate(m["seconds"], m["rows"]) / rate(base["seconds"], base["rows"]) if base and base["rows"] else None
        out.append(
            {
                "size": world.size,
                "method": m["method"],
                "case": m["case"],
                "seconds": round(m["seconds"], 3),
                "cpu_seconds": round(m["cpu_seconds"], 2) if "cpu_seconds" in m else None,
                "rows": m["rows"],
                "rows_per_s": rate(m["seconds"], m["rows"]),
                "peak_rss_mb": round(m["peak_rss_mb"], 1),
                "ratio_to_limit": round(ratio, 3) if ratio else None,
            }
        )
        if m["method"] not in PER_ENTITY:
            continue
        for name, e in m["entities"].items():
            b = base["entities"].get(name) if base else None
            ratio = rate(e["seconds"], e["rows"]) / rate(b["seconds"], b["rows"]) if b and b["rows"] else None
            per_entity.append(
                {
                    "size": world.size,
                    "method": m["method"],
                    "case": m["case"],
                    "entity": name,
                    "seconds": round(e["seconds"], 3),
                    "cpu_seconds": round(e["cpu_seconds"], 2) if "cpu_seconds" in e else None,
                    "rows": e["rows"],
                    "rows_per_s": rate(e["seconds"], e["rows"]),
                    "peak_rss_mb": None,
                    "ratio_to_limit": round(ratio, 3) if ratio else None,
                    **({"format": e["format"], "plan": e.get("plan", "copy")} if "format" in e else {}),
                }
            )
    return out + per_entity


def report(world: World, results: list[dict[str, Any]], measured: list[dict[str, Any]]) -> str:
    """The printed table: method x case, then the loads of the methods in PER_ENTITY entity by entity."""

    def header(first: str) -> list[str]:
        line = (
            f"{first:<28}{'case':<9}{'seconds':>9}{'CPU s':>8}{'rows':>11}{'rows/s':>10}{'peak RSS MB':>13}"
            f"{'vs limit':>10}"
        )
        return [line, "-" * len(line)]

    def line(label: str, r: dict[str, Any]) -> str:
        rss = f"{r['peak_rss_mb']:.0f}" if r["peak_rss_mb"] is not None else "-"
        ratio = f"{r['ratio_to_limit']:.2f}" if r["ratio_to_limit"] is not None else "-"
        cpu = f"{r['cpu_seconds']:.2f}" if r["cpu_seconds"] is not None else "-"
        return (
            f"{label:<28}{r['case']!s:<9}{r['seconds']:>9.2f}{cpu:>8}{r['rows']:>11,}{r['rows_per_s']:>10,.0f}"
            f"{rss:>13}{ratio:>10}"
        )

    lines = [
        f"ASPIRE -> portal benchmark, size {world.size}: {len(world.accounts):,} customers enrolled (25%)",
        "",
        *header("method"),
    ]
    lines += [line(r["method"], r) for r in results if "entity" not in r]
    for method in PER_ENTITY:
        entities = [r for r in results if r.get("entity") and r["method"] == method]
        if not entities:
            continue
        if method == "limit":
            lines += ["", "limit, entity by entity (the COPY format and the plan it kept)", *header("entity")]
            lines += [f"{line(r['entity'], r)}  {r['format']}, {r['plan']}'s plan" for r in entities]
        else:
            lines += ["", f"{method}, entity by entity (vs the limit's load of the same entity)", *header("entity")]
            lines += [line(r["entity"], r) for r in entities]
    lines += [""] + [f"{m['method']} ({m['case']}): {m['note']}" for m in measured if m.get("note")]
    moved: dict[str, set[int]] = {}
    for m in measured:
        if not m["method"].startswith(("incremental", "full_sync")):
            moved.setdefault(m["case"], set()).add(m["rows"])
    lines += [
        f"WARNING: {r['method']} ({r['case']}{', ' + r['entity'] if r.get('entity') else ''}) ran at "
        f"{r['ratio_to_limit']:.2f}x the limit: more than noise ({BEATS_THE_LIMIT}x and "
        f"{NOISE_SECONDS * 1000:.0f} ms), so the limit is no bound there"
        for r in results
        if r["method"] != "limit"
        and (r["ratio_to_limit"] or 0) > BEATS_THE_LIMIT
        and r["seconds"] * (r["ratio_to_limit"] - 1) > NOISE_SECONDS
    ]
    lines += [
        f"WARNING: the methods moved different numbers of rows in the {case} case: {sorted(counts)}"
        for case, counts in moved.items()
        if len(counts) > 1
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("small", "medium", "large"), default="medium")
    parser.add_argument(
        "--methods",
        default=",".join((*FULL_METHODS, *SCOPE_METHODS)),
        help="comma-separated subset of: limit, engine, engine_typed, generic_transfer, dlt, "
        "incremental, incremental_change_tracking, incremental_no_key_check, full_sync, exit (the last four need "
        "incremental)",
    )
    parser.add_argument(
        "--reuse-source",
        action="store_true",
        help="keep the emulator of an earlier run at the same size instead of re-creating it",
    )
    args = parser.parse_args()
    methods = args.methods.split(",")
    unknown = set(methods) - {*FULL_METHODS, *SCOPE_METHODS}
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("AIRFLOW_HOME", str(RESULTS / "airflow"))  # GenericTransfer's Airflow: a throw-away home
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    started = time.perf_counter()
    world = prepare(args.size, reuse_source=args.reuse_source)
    measured = run(world, methods)
    results = rows_of(world, measured)
    print(report(world, results, measured))
    RESULTS.mkdir(parents=True, exist_ok=True)  # also when no measurement ran (methods that need another)
    latest = RESULTS / "latest.json"
    latest.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {latest.relative_to(REPO)}; the whole run took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
