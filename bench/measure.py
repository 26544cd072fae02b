"""One measurement, in a process of its own so its peak RSS is that method's alone.

Run by `python -m bench` as `python -m bench.measure METHOD CASE --source DSN --portal DSN --out FILE`; writes
{"seconds", "rows", "peak_rss_mb", "entities": {name: {"seconds", "rows"}}, "note"?} to FILE. Seconds count the
loads, not the interpreter's start, the imports or the harness preparing SQL text; the peak RSS (VmHWM) counts
everything the process did, and for the limit it is that of the two psql processes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from aspire_portal import catalogue, merging, model, planning, scope, sqlfiles, staging
from aspire_portal import columns as portal_columns
from aspire_portal.catalogue import Entity
from aspire_portal.load import load_entity
from bench import RESULTS, cpu
from bench.world import DLT_VIEWS, inlined_extract, uri

SOURCE_CONN_ID, PORTAL_CONN_ID = "bench_source", "bench_portal"
TARGET_TYPES = """
select a.attname, a.atttypid::int, format_type(a.atttypid, a.atttypmod)
from pg_attribute as a
where a.attrelid = to_regclass(%(table)s) and a.attnum > 0 and not a.attisdropped
"""


def timed(entities: Iterable[Entity], load: Callable[[Entity], int]) -> dict[str, Any]:
    """Runs `load` for each entity (it returns the rows it moved); the totals and the time of each."""
    result: dict[str, Any] = {"seconds": 0.0, "rows": 0, "cpu_seconds": 0.0, "entities": {}}
    for entity in entities:
        with cpu.Stopwatch() as clock:
            rows = load(entity)
        result["entities"][entity.name] = {"seconds": clock.seconds, "rows": rows, "cpu_seconds": clock.busy}
        result["seconds"] += clock.seconds
        result["rows"] += rows
        result["cpu_seconds"] += clock.busy
    return result


# ---- the engine -----------------------------------------------------------------------------------------------


def engine_full(
    source_dsn: str, portal_dsn: str, case: str, options: model.LoadOptions = model.DEFAULT_OPTIONS
) -> dict[str, Any]:
    """The project's full load of every entity for all enrolled customers (customer full sync, daily refresh).
    Each resolves its scope in its transaction, as in production with a scope of everyone persisted before it (the
    15-minute run leaves one every run; here one is persisted before the clock starts): a quiet ASPIRE's scope
    tables are then checked, not read again."""
    with psycopg.connect(source_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        scope.resolve(source, target, "postgres")
        return timed(
            catalogue.ENTITIES,
            lambda entity: (
                load_entity(
                    source, target, model.LoadRequest(entity, "full"), dialect="postgres", options=options
                ).rows_read
            ),
        )


def engine_typed(source_dsn: str, portal_dsn: str, case: str) -> dict[str, Any]:
    """The same full loads with the source's values as Python objects (Decimal, datetime, date, int, str, bool):
    what the engine gets from ASPIRE through pymssql in production, where nothing can hand it text."""
    return engine_full(source_dsn, portal_dsn, case, model.LoadOptions(row_format="typed"))


def incremental(source_dsn: str, portal_dsn: str, case: str, deletes: str = "key_check") -> dict[str, Any]:
    """One 15-minute run as the DAG makes it: the scope resolved once (timed as entity "resolve_scope"), then the
    seven incremental loads and the five daily entities' scope-change loads, all on that one scope. `deletes`: the
    loads' delete detection (key_check, the default, or daily: none in the 15-minute run)."""
    run = model.RunContext("bench", f"incremental-{case}")
    with psycopg.connect(source_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        started = time.perf_counter()
        resolved = scope.resolve(source, target, "postgres", dag_id=run.dag_id, run_id=run.run_id)
        seconds = time.perf_counter() - started
        deleted = 0

        def load(entity: Entity) -> int:
            nonlocal deleted
            loaded = load_entity(
                source,
                target,
                model.LoadRequest(entity, "incremental" if entity.cadence == "15min" else "scope", run=run),
                dialect="postgres",
                scope=resolved,
                options=model.LoadOptions(deletes=deletes),
            )
            deleted += loaded.rows_deleted
            return loaded.rows_read

        result = timed(catalogue.ENTITIES, load)
    result["entities"]["resolve_scope"] = {"seconds": seconds, "rows": len(resolved.links)}
    result["seconds"] += seconds
    if case == "exit":
        result["note"] = f"{deleted:,} portal rows deleted (the un-enrolled customers' data, every entity)"
    return result


def full_sync(source_dsn: str, portal_dsn: str, case: str) -> dict[str, Any]:
    """One customer's full sync as the DAG makes it (its scope resolved once, then all 12 loads), into a portal
    that holds every enrolled customer: case "largest" is the enrolled customer with the most in-scope contracts,
    "median" the one in the middle."""
    with psycopg.connect(source_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        everyone = scope.latest(target) or scope.resolve(source, target, "postgres")
        ranked = sorted(everyone.accounts, key=lambda a: (len(everyone.contracts_of([a])), a))
        customer = ranked[-1] if case == "largest" else ranked[len(ranked) // 2]
        run = model.RunContext("bench", f"full-sync-{case}")
        started = time.perf_counter()
        resolved = scope.resolve(source, target, "postgres", customers=[customer], dag_id=run.dag_id, run_id=run.run_id)
        seconds = time.perf_counter() - started
        result = timed(
            catalogue.ENTITIES,
            lambda entity: (
                load_entity(
                    source,
                    target,
                    model.LoadRequest(entity, "full", accounts=(customer,), customer_id=customer, run=run),
                    dialect="postgres",
                    scope=resolved,
                ).rows_read
            ),
        )
    result["entities"]["resolve_scope"] = {"seconds": seconds, "rows": len(resolved.links)}
    result["seconds"] += seconds
    result["note"] = f"customer {customer}, {len(resolved.contracts_of([customer]))} in-scope contracts"
    return result


# ---- the limit: psql COPY | psql COPY, binary and text, the faster of the two --------------------------------

LIMIT_FORMATS = ("binary", "text")


def limit(source_dsn: str, portal_dsn: str, case: str) -> dict[str, Any]:
    """psql COPY (extract) TO STDOUT | psql COPY FROM STDIN: straight into the target table for the initial load,
    through the engine's staging table and merge for the refresh. The extract is the statement the engine's full
    load runs (its scope resolved the same way). No Python touches a row; the statements are prepared before the
    clock starts.

    Each entity is copied in both formats, binary and text, and the faster one counts: which is faster depends on
    the types (binary saves the server parsing dates and timestamps, text is shorter for numerics) and on the
    machine. Both copy the same rows into the same portal: the one that runs first (binary for every other entity,
    text for the rest) does it in a transaction it rolls back.

    And each with both of the plans PostgreSQL can give the extract, when they differ: the plan for all rows, which
    `COPY (…)` gets, and the plan for a server-side cursor (the first 10% of rows fast), which the engine's fetch
    gets and which can be much faster (the detail lines merged in index order instead of hashed). The cursor's plan
    is had under COPY by a LIMIT the planner cannot evaluate (`LIMIT (SELECT <the largest bigint>)`: it then plans
    for 10% of the rows, as for a cursor) and returns every row. So the limit is a bound for any method."""
    with psycopg.connect(source_dsn, autocommit=True) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        resolved = scope.resolve(source, target, "postgres", persist=False)
        plans = {
            (entity.name, copy_format): _limit_plan(source, target, entity, resolved, case, copy_format)
            for entity in catalogue.ENTITIES
            for copy_format in LIMIT_FORMATS
        }
        differ = {
            entity.name: _cursor_plan_differs(source, plans[entity.name, "text"][0]) for entity in catalogue.ENTITIES
        }
    result: dict[str, Any] = {"seconds": 0.0, "rows": 0, "entities": {}}
    peaks_kb: list[int] = []
    for number, entity in enumerate(catalogue.ENTITIES):
        ways = [(f, "copy") for f in LIMIT_FORMATS] + (
            [(f, "cursor") for f in LIMIT_FORMATS] if differ[entity.name] else []
        )
        if number % 2:
            ways.reverse()
        runs: dict[tuple[str, str], tuple[float, int]] = {}
        busy: dict[tuple[str, str], float] = {}
        for copy_format, plan in ways:
            select, receive = plans[entity.name, copy_format]
            with cpu.Stopwatch() as clock:
                rows, peak_kb = _pipe(
                    source_dsn,
                    portal_dsn,
                    select if plan == "copy" else f"{select}\nlimit (select {2**63 - 1})",
                    receive,
                    copy_format,
                    commit=(copy_format, plan) == ways[-1],
                )
            runs[copy_format, plan] = (clock.seconds, rows)
            busy[copy_format, plan] = clock.busy
            peaks_kb.append(peak_kb)
        if len({rows for _seconds, rows in runs.values()}) != 1:
            raise RuntimeError(f"{entity.name}: the ways of copying moved different numbers of rows: {runs}")
        kept = min(runs, key=lambda way: runs[way][0])
        seconds, rows = runs[kept]
        result["entities"][entity.name] = {
            "seconds": seconds,
            "rows": rows,
            "format": kept[0],
            "plan": kept[1],
            "cpu_seconds": busy[kept],
            **{f"seconds_{f}": min(t for (rf, _p), (t, _r) in runs.items() if rf == f) for f in LIMIT_FORMATS},
            **({"seconds_copy_plan": min(runs[f, "copy"][0] for f in LIMIT_FORMATS)} if differ[entity.name] else {}),
        }
        result["seconds"] += seconds
        result["rows"] += rows
    result["cpu_seconds"] = sum(e["cpu_seconds"] for e in result["entities"].values())
    kept_by = {f: sum(e["format"] == f for e in result["entities"].values()) for f in LIMIT_FORMATS}
    alone = {f: sum(e[f"seconds_{f}"] for e in result["entities"].values()) for f in LIMIT_FORMATS}
    cursor = sorted(n for n, e in result["entities"].items() if e["plan"] == "cursor")
    result["note"] = (
        f"the machine's CPU busy {result['cpu_seconds']:.1f} s over the kept copies; "
        f"per entity the faster of binary COPY ({kept_by['binary']} entities) and text COPY "
        f"({kept_by['text']}); all binary {alone['binary']:.2f} s, all text {alone['text']:.2f} s; "
        f"the cursor's plan differed for {sorted(n for n, d in differ.items() if d) or 'none'} and was kept for "
        f"{cursor or 'none'}"
        + "".join(
            f" ({n}: {e['seconds']:.2f} s against {e['seconds_copy_plan']:.2f} s with COPY's plan)"
            for n, e in ((n, result["entities"][n]) for n in cursor)
        )
    )
    return {**result, "peak_rss_mb": max(peaks_kb) / 1024}


def _cursor_plan_differs(source: psycopg.Connection, select: str) -> bool:
    """Whether PostgreSQL plans `select` differently for a cursor than for all its rows (COPY's plan)."""
    whole = [line for (line,) in source.execute(f"explain (costs off) {select}")]
    with source.transaction():
        cursor = [
            line for (line,) in source.execute(f"explain (costs off) declare limit_plan no scroll cursor for {select}")
        ]
    return whole != cursor


def _limit_plan(
    source: psycopg.Connection,
    target: psycopg.Connection,
    entity: Entity,
    resolved: planning.Scope,
    case: str,
    copy_format: str,
) -> tuple[str, list[str]]:
    """What the two psql run for one entity: the select to copy out, and the statements that take it in."""
    described = portal_columns.described(target, entity)
    columns = [c.name for c in described]
    quoted = [sql.Identifier(c).as_string(target) for c in columns]
    select = _typed_select(
        source, target, entity, resolved, columns, cast=copy_format == "binary", staged=case != "initial"
    )
    if case == "initial":
        return select, [f"copy {entity.target_table} ({', '.join(quoted)}) from stdin (format {copy_format})"]
    stage = sql.Identifier(f"stage_{entity.name}").as_string(target)
    return select, [
        staging.create_stage_statement(target, entity, described),
        f"copy {stage} ({', '.join(quoted)}) from stdin (format {copy_format})",
        sqlfiles.render("load/analyze_stage.sql", stage=stage),
        psycopg.ClientCursor(target).mogrify(
            merging.merge_statement(target, entity, stage, described), {"synced_at": datetime.now(UTC)}
        ),
    ]


def _typed_select(
    source: psycopg.Connection,
    target: psycopg.Connection,
    entity: Entity,
    resolved: planning.Scope,
    columns: list[str],
    *,
    cast: bool = True,
    staged: bool = False,
) -> str:
    """The extract in the target's column order and, with `cast`, its types. Binary COPY and bound parameters need
    the exact types (a bit column of ASPIRE, smallint in the emulator, lands in a boolean), so a column whose type
    differs is cast; text COPY converts it on the way in. `staged`: the types of the engine's stage, which holds
    integers as bigint (see columns.Column.staged)."""
    extract = inlined_extract(source, entity, resolved)
    source_types = {d.name: d.type_code for d in source.execute(f"select * from ({extract}) as e limit 0").description}
    target_types = {
        name: (oid, name_of_type)
        for name, oid, name_of_type in target.execute(TARGET_TYPES, {"table": entity.target_table})
    }
    selected = []
    for column in columns:
        name = sql.Identifier(column).as_string(target)
        oid, type_name = target_types[column]
        if staged and type_name in ("smallint", "integer"):  # format_type names
            oid, type_name = psycopg.postgres.types["int8"].oid, "int8"
        same = source_types[column] == oid or not cast
        selected.append(f"e.{name}" if same else f"cast(cast(e.{name} as text) as {type_name})")
    return f"select {', '.join(selected)}\nfrom (\n{extract}\n) as e"


def _pipe(
    source_dsn: str, portal_dsn: str, select: str, receive: list[str], copy_format: str, *, commit: bool = True
) -> tuple[int, int]:
    """Runs the psql | psql pipeline in `copy_format` (the receiving statements name it too), in one transaction
    that commits, or rolls back when not `commit`; the rows the receiving COPY reported and the two processes' peak
    RSS (kB)."""
    psql = ["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1"]
    # the extract goes in on stdin: with the enrolled accounts inlined it outgrows a command-line argument
    send = subprocess.Popen([*psql, "-d", source_dsn, "-f", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    statements = receive if commit else ["begin", *receive, "rollback"]
    commands = [arg for statement in statements for arg in ("-c", statement)]
    take = subprocess.Popen(
        [*psql, *(["-1"] if commit else []), "-d", portal_dsn, *commands],
        stdin=send.stdout,
        stdout=subprocess.PIPE,
        text=True,
    )
    send.stdout.close()
    send.stdin.write(f"copy ({select}) to stdout (format {copy_format});\n".encode())
    send.stdin.close()
    peak_kb = 0
    while True:  # what the receiving psql prints is a few lines: its pipe does not fill up
        peak_kb = max(peak_kb, _peak_rss_kb(send.pid) + _peak_rss_kb(take.pid))
        try:
            take.wait(timeout=0.02)
            break
        except subprocess.TimeoutExpired:
            continue
    if send.wait() or take.returncode:
        raise RuntimeError(f"the psql pipeline failed (send {send.returncode}, receive {take.returncode})")
    return int(re.search(r"^COPY (\d+)$", take.stdout.read(), re.MULTILINE)[1]), peak_kb


def _peak_rss_kb(pid: int | str = "self") -> int:
    """A process's peak RSS since its exec (VmHWM). Not getrusage's ru_maxrss: that also counts the memory of the
    process it was forked from, up to the exec (here: the benchmark's driver, which generated the emulator)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # it has just ended
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found[1]) if found else 0


# ---- Airflow's GenericTransfer ----------------------------------------------------------------------------------


def generic_transfer(source_dsn: str, portal_dsn: str, case: str) -> dict[str, Any]:
    """common-sql GenericTransfer (source get_records -> destination insert_rows), as a user would write it:
    the extract as its sql, the target columns, and an upsert on the table's key (replace=True) for the refresh."""
    from airflow.providers.common.sql.operators.generic_transfer import GenericTransfer

    os.environ[f"AIRFLOW_CONN_{SOURCE_CONN_ID.upper()}"] = uri(source_dsn)
    os.environ[f"AIRFLOW_CONN_{PORTAL_CONN_ID.upper()}"] = uri(portal_dsn)
    with psycopg.connect(source_dsn, autocommit=True) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        resolved = scope.resolve(source, target, "postgres", persist=False)
        columns = {e.name: [c.name for c in portal_columns.described(target, e)] for e in catalogue.ENTITIES}
        selects = {e.name: _typed_select(source, target, e, resolved, columns[e.name]) for e in catalogue.ENTITIES}

    def load(entity: Entity) -> int:
        counted = [0]

        def count(rows: list, **_context: Any) -> list:
            counted[0] += len(rows)
            return rows

        GenericTransfer(
            task_id=f"transfer_{entity.name}",
            sql=selects[entity.name],
            destination_table=entity.target_table,
            source_conn_id=SOURCE_CONN_ID,
            destination_conn_id=PORTAL_CONN_ID,
            insert_args={"target_fields": columns[entity.name], "replace": case == "refresh"},
            rows_processor=count,
        ).execute(context={})
        return counted[0]

    return timed(catalogue.ENTITIES, load)


# ---- dlt -----------------------------------------------------------------------------------------------------


def dlt_merge(source_dsn: str, portal_dsn: str, case: str) -> dict[str, Any]:
    """dlt's sql_database source (over views holding the same extracts) into PostgreSQL in one pipeline run, with
    write_disposition="merge" on each entity's key and the fastest backend installed (pyarrow, else sqlalchemy)."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    # Installed beside Airflow, dlt looks every setting up in Airflow Variables too: seconds of lookups per run.
    os.environ.setdefault("PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false")
    import dlt
    from dlt.sources.sql_database import sql_database

    try:
        import pyarrow  # noqa: F401

        backend = "pyarrow"
    except ImportError:
        backend = "sqlalchemy"
    destination = psycopg.conninfo.conninfo_to_dict(portal_dsn)
    destination.setdefault("password", "unused")  # dlt insists on one; a server with trust auth ignores it
    started = time.perf_counter()  # dlt's own set-up (reflecting the source) counts: it is part of its work
    pipeline = dlt.pipeline(
        pipeline_name="aspire_bench",
        pipelines_dir=str(dlt_pipelines_dir(portal_dsn)),
        destination=dlt.destinations.postgres(credentials=uri(psycopg.conninfo.make_conninfo(**destination))),
        dataset_name="aspire_dlt",
    )
    names = [e.name for e in catalogue.ENTITIES]
    source = sql_database(
        credentials=uri(source_dsn, "postgresql+psycopg"),
        schema=DLT_VIEWS,
        table_names=names,
        include_views=True,
        backend=backend,
    )
    for entity in catalogue.ENTITIES:
        source.resources[entity.name].apply_hints(primary_key=list(entity.key), write_disposition="merge")
    pipeline.run(source)
    seconds = time.perf_counter() - started
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {
        "seconds": seconds,
        "rows": sum(counts.get(name, 0) for name in names),
        "entities": {},
        "note": f"sql_database, {backend} backend, one pipeline run, merge",
    }


def dlt_pipelines_dir(portal_dsn: str) -> Path:
    """Where dlt keeps the pipeline's local state for one portal database (bench/results is not committed)."""
    return RESULTS / "dlt" / psycopg.conninfo.conninfo_to_dict(portal_dsn)["dbname"]


METHODS: dict[str, Callable[[str, str, str], dict[str, Any]]] = {
    "engine": engine_full,
    "engine_typed": engine_typed,
    "limit": limit,
    "generic_transfer": generic_transfer,
    "dlt": dlt_merge,
    "incremental": incremental,
    "incremental_no_key_check": lambda source, portal, case: incremental(source, portal, case, deletes="daily"),
    "incremental_change_tracking": lambda source, portal, case: incremental(
        source, portal, case, deletes="change_tracking"
    ),
    "full_sync": full_sync,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=METHODS)
    parser.add_argument(
        "case",
        help="initial or refresh; for incremental: prime, 0, 1000 (changed rows) or exit; "
        "for full_sync: largest or median",
    )
    parser.add_argument("--source", required=True, help="libpq DSN of the emulated ASPIRE")
    parser.add_argument("--portal", required=True, help="libpq DSN of this method's portal database")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    result = METHODS[args.method](args.source, args.portal, args.case)
    result.setdefault("peak_rss_mb", _peak_rss_kb() / 1024)
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
