"""`python -m bench.profile --size medium --entity invoice`: where one engine full load spends its time.

On the benchmark's emulator (made by `make bench`; created here when missing or of another size), into a fresh
portal, the load runs:
1. with a clock on each phase: streaming into the staging table (server-side cursor fetch + write_row + COPY),
   the merge, the delete of rows gone from scope, and the rest (bounds, staging table, analyze, run log);
2. the same extract through the same server-side cursor with the rows dropped: what fetching and decoding cost
   alone, so the rest of the streaming phase is write_row and COPY;
3. under cProfile: the functions with the most time of their own (the profiler's cost per call inflates the
   per-row calls, so read shares from 1 and 2 and names from 3).
`--case refresh` loads once first and changes 1% of ASPIRE's rows, so the measured load is a refresh; `--typed`
profiles the production row path (the values as Python objects, binary COPY: the bench's `engine_typed`).
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import sys
import time

import psycopg

from aspire_portal import catalogue, copystream, model, settings
from aspire_portal.catalogue import Entity
from aspire_portal.load import load_entity
from bench.world import World, inlined_extract, prepare, touch_one_percent

OPTIONS = model.DEFAULT_OPTIONS  # main() sets the row format asked for


def load(world: World, portal_dsn: str, entity: Entity) -> model.LoadResult:
    with psycopg.connect(world.source_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        return load_entity(source, target, model.LoadRequest(entity, "full"), dialect="postgres", options=OPTIONS)


def fresh_portal(world: World, entity: Entity, case: str) -> str:
    """An empty portal ("initial"), or one holding the entity with 1% of ASPIRE changed since ("refresh")."""
    portal_dsn = world.portal("profile")
    if case == "refresh":
        load(world, portal_dsn, entity)
        touch_one_percent(world.source_dsn)
    return portal_dsn


def fetch_alone(world: World, entity: Entity) -> float:
    """Seconds to read the extract through the engine's server-side cursor, dropping the rows."""
    with psycopg.connect(world.source_dsn) as source:
        statement = inlined_extract(source, entity, world.scope)
        started = time.perf_counter()
        with copystream.server_side_cursor(source, settings.BATCH_SIZE, OPTIONS.row_format) as cursor:
            cursor.execute(statement)
            while cursor.fetchmany(settings.BATCH_SIZE):
                pass
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("small", "medium", "large"), default="medium")
    parser.add_argument("--entity", default="invoice", choices=[e.name for e in catalogue.ENTITIES])
    parser.add_argument("--case", choices=("initial", "refresh"), default="initial")
    parser.add_argument("--top", type=int, default=25, help="functions to list from cProfile")
    parser.add_argument("--typed", action="store_true", help="the values as Python objects, as pymssql hands them")
    args = parser.parse_args()
    global OPTIONS
    OPTIONS = model.LoadOptions(row_format="typed" if args.typed else "text")
    logging.basicConfig(level=logging.WARNING)
    entity = catalogue.entity(args.entity)
    world = prepare(args.size, reuse_source=True)

    portal_dsn = fresh_portal(world, entity, args.case)
    result = load(world, portal_dsn, entity)  # the engine times its own phases (LoadResult.seconds_*)
    fetch = fetch_alone(world, entity)
    portal_dsn = fresh_portal(world, entity, args.case)
    profiler = cProfile.Profile()
    profiler.runcall(load, world, portal_dsn, entity)

    rate = result.rows_read / result.seconds if result.seconds else 0
    method = "engine_typed" if args.typed else "engine"
    print(
        f"{method} full load of {entity.name} ({args.size}, {args.case}): {result.rows_read:,} rows read, "
        f"{result.rows_inserted:,} inserted, {result.rows_updated:,} updated, {result.rows_deleted:,} deleted "
        f"in {result.seconds:.2f} s ({rate:,.0f} rows/s)\n"
    )
    phases = [result.seconds_extract, result.seconds_merge, result.seconds_delete]
    where = "the empty target" if result.copied_directly else "staging"
    lines = [
        (f"stream into {where} (fetch + write_row + COPY)", result.seconds_extract),
        ("  of which fetch alone (server-side cursor, driver decoding)", fetch),
        ("  of which write_row + COPY (the rest of streaming)", result.seconds_extract - fetch),
        ("merge (anti-join, then upsert of changed rows)", result.seconds_merge),
        ("delete (rows gone or out of scope)", result.seconds_delete),
        ("other (locks, bounds, staging table, run log)", result.seconds - sum(phases)),
    ]
    for label, seconds in lines:
        share = seconds / result.seconds if result.seconds else 0
        print(f"{label:<62}{seconds:>8.2f} s{share:>7.0%}")
    print(f"\ncProfile of the same load, top {args.top} by own time:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
