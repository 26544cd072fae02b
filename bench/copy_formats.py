"""`python -m bench.copy_formats --size medium --runs 5 [--by-entity]`: what each way of handing rows to COPY costs.

The engine's full load of every entity, into an empty copy of the benchmark's portal, three ways, in turn:
  text          the emulator's values passed through as text, text COPY (`engine`)
  typed_text    the values as Python objects (what pymssql hands), text COPY (the engine before binary COPY)
  typed_binary  the values as Python objects, binary COPY where it pays, text COPY for tables of amounts
                (`engine_typed`, production's path: `copystream.text_is_cheaper`)
For each: seconds, and CPU seconds of this process (fetching, building and dumping the values), of the source's
server process (the extract) and of the portal's (parsing and storing the rows), read from /proc, so the
comparison holds on a machine busy with other work, where seconds do not. Prints the median of the runs.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import psycopg

from aspire_portal import catalogue, model
from aspire_portal.load import load_entity
from bench.cpu import process_seconds
from bench.world import PREFIX, World, prepare, recreate_database

WAYS = ("text", "typed_text", "typed_binary")


def load_everything(world: World, way: str) -> dict[str, float]:
    options = model.LoadOptions(row_format="text" if way == "text" else "typed", binary_copy=way == "typed_binary")
    portal_dsn = recreate_database(f"{PREFIX}_portal_copy_formats", template=f"{PREFIX}_portal")
    with psycopg.connect(world.source_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        pids = source.info.backend_pid, target.info.backend_pid
        measured = {}
        for entity in catalogue.ENTITIES:
            before = time.perf_counter(), time.process_time(), *map(process_seconds, pids)
            rows = load_entity(
                source, target, model.LoadRequest(entity, "full"), dialect="postgres", options=options
            ).rows_read
            after = time.perf_counter(), time.process_time(), *map(process_seconds, pids)
            seconds, client, source_cpu, portal_cpu = (b - a for a, b in zip(before, after, strict=True))
            measured[entity.name] = {
                "rows": rows,
                "seconds": seconds,
                "client": client,
                "source": source_cpu,
                "portal": portal_cpu,
                "cpu": client + source_cpu + portal_cpu,
            }
    return {key: sum(m[key] for m in measured.values()) for key in next(iter(measured.values()))} | {
        f"{entity}:{key}": value for entity, m in measured.items() for key, value in m.items()
    }


def _line(label: str, median: dict[str, float], prefix: str = "") -> str:
    return (
        f"{label:<32}{median[prefix + 'rows']:>10,.0f}{median[prefix + 'seconds']:>9.2f}{median[prefix + 'cpu']:>7.2f}"
        f"{median[prefix + 'client']:>8.2f}{median[prefix + 'source']:>8.2f}{median[prefix + 'portal']:>8.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.copy_formats", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("small", "medium", "large"), default="medium")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--by-entity", action="store_true", help="also each entity's medians")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    world = prepare(args.size, reuse_source=True)
    measured: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
    for run in range(args.runs):  # in turn, the order reversed every other run
        for way in WAYS if run % 2 == 0 else WAYS[::-1]:
            measured[way].append(load_everything(world, way))
    with psycopg.connect(world.source_dsn, autocommit=True) as conn:
        conn.execute(f"drop database if exists {PREFIX}_portal_copy_formats with (force)")
    print(f"engine full loads, size {args.size}, median of {args.runs} runs (CPU seconds from /proc)\n")
    print(f"{'way':<32}{'rows':>10}{'seconds':>9}{'CPU':>7}{'client':>8}{'source':>8}{'portal':>8}")
    medians = {way: {key: statistics.median(r[key] for r in runs) for key in runs[0]} for way, runs in measured.items()}
    for way, median in medians.items():
        print(_line(way, median))
    if args.by_entity:
        for entity in (e.name for e in catalogue.ENTITIES):
            print()
            for way, median in medians.items():
                print(_line(f"{entity} {way}", median, f"{entity}:"))


if __name__ == "__main__":
    main()
