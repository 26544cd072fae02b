"""`python -m bench.fixed_cost --size large [--prepare] [ENTITY ...]`: a full load's fixed cost.

Times full loads over everyone of small entities (by default contract_scenario, 6 rows, and line_of_credit, 672 rows
at large), whose time is nearly all fixed cost: the load's scope resolved in its transaction, its plan, the turn,
the stage and the bookkeeping. In one process, into a copy of the benchmark's portal that holds every entity's rows
(a daily refresh's situation), after a scope of everyone was persisted, as a 15-minute run leaves one. Prints the
median of `--runs` loads of each and each load's seconds.

`--prepare` (re)builds the emulator at `--size` when it is not that size yet, copies the portal template and loads
every entity once (a few minutes at large); without it the copy of an earlier `--prepare` is reused.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import psycopg

from aspire_portal import catalogue, model, scope
from aspire_portal.load import load_entity
from bench.world import PREFIX, SOURCE_DB, database_dsn, prepare, recreate_database

PORTAL_DB = f"{PREFIX}_portal_fixed_cost"


def fill(size: str) -> str:
    """A copy of the portal template at `size` holding every entity's rows, with a scope of everyone persisted."""
    world = prepare(size, reuse_source=True)
    portal_dsn = recreate_database(PORTAL_DB, template=f"{PREFIX}_portal")
    with psycopg.connect(world.source_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        scope.resolve(source, target, "postgres")
        for entity in catalogue.ENTITIES:
            load_entity(source, target, model.LoadRequest(entity, "full"), dialect="postgres")
        scope.resolve(source, target, "postgres")
    return portal_dsn


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fixed_cost", description=__doc__.splitlines()[0])
    parser.add_argument("entities", nargs="*", default=["contract_scenario", "line_of_credit"])
    parser.add_argument("--size", choices=("small", "medium", "large"), default="large")
    parser.add_argument("--prepare", action="store_true", help="build the emulator and the filled portal first")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    portal_dsn = fill(args.size) if args.prepare else database_dsn(PORTAL_DB)
    with (
        psycopg.connect(database_dsn(SOURCE_DB)) as source,
        psycopg.connect(portal_dsn, autocommit=True) as target,
    ):
        scope.resolve(source, target, "postgres")  # as the newest 15-minute run leaves one, ASPIRE as it is now
        for name in args.entities:
            entity = catalogue.entity(name)
            seconds = []
            for _run in range(args.runs):
                started = time.perf_counter()
                load_entity(source, target, model.LoadRequest(entity, "full"), dialect="postgres")
                seconds.append(time.perf_counter() - started)
            print(f"{name:<20} median {statistics.median(seconds):.3f} s   " + " ".join(f"{s:.3f}" for s in seconds))


if __name__ == "__main__":
    main()
