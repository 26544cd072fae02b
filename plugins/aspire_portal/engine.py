"""The extract/load engine: ASPIRE rows -> server-side cursor -> COPY into a staging table -> one merge.

One call of :func:`load_entity` loads one entity in one portal transaction: the staged rows are merged
(newest ``source_rowver`` wins, unchanged rows are not written), a full load deletes what left its scope,
an incremental load moves the entity's watermark, and the run log records the counts, all committed together.
A failure rolls all of it back and records the error.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.types.string import TextLoader

from aspire_portal import sqlfiles
from aspire_portal.catalogue import Entity

log = logging.getLogger(__name__)

LoadKind = Literal["full", "incremental", "backfill"]
Dialect = Literal["mssql", "postgres"]
DIALECTS: dict[str, Dialect] = {"mssql": "mssql", "postgres": "postgres", "postgresql": "postgres"}
BATCH_SIZE = 20_000


@dataclass(frozen=True)
class RunContext:
    """Who asked for a load, for the run log."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None


@dataclass(frozen=True)
class LoadRequest:
    """What to load. `accounts` None means every enrolled account (the whole portal)."""

    entity: Entity
    kind: LoadKind
    accounts: tuple[int, ...] | None = None
    customer_id: int | None = None
    modified_from: datetime | None = None
    modified_to: datetime | None = None
    run: RunContext = field(default_factory=RunContext)

    @property
    def scope(self) -> Literal["all", "accounts"]:
        return "all" if self.accounts is None else "accounts"


@dataclass
class LoadResult:
    entity: str
    load_kind: str
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    low_rowver: int | None = None
    high_rowver: int | None = None
    new_contracts: int = 0
    data_as_of: datetime | None = None
    seconds: float = 0.0
    seconds_extract: float = 0.0  # server-side cursor -> COPY into the staging table
    seconds_merge: float = 0.0
    seconds_delete: float = 0.0
    copied_directly: bool = False  # a first load into an empty table: no staging, merge or delete needed

    def summary(self) -> str:
        how = "first load, copied straight into the empty table" if self.copied_directly else (
            f"extract {self.seconds_extract:.2f}s, merge {self.seconds_merge:.2f}s, delete {self.seconds_delete:.2f}s")
        new = f", {self.new_contracts} contract(s) new to scope" if self.new_contracts else ""
        return (
            f"{self.entity} ({self.load_kind}): read {self.rows_read}, inserted {self.rows_inserted}, "
            f"updated {self.rows_updated}, deleted {self.rows_deleted} in {self.seconds:.2f}s ({how}){new} "
            f"(row versions [{self.low_rowver}, {self.high_rowver}))"
        )

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["data_as_of"] = self.data_as_of.isoformat() if self.data_as_of else None
        return out


def dialect_of(conn_type: str) -> Dialect:
    """The SQL dialect of an Airflow connection type; a clear error for a source the extracts do not support."""
    try:
        return DIALECTS[conn_type]
    except KeyError:
        raise ValueError(
            f"connection type {conn_type!r} is not a supported ASPIRE source; use mssql (ASPIRE on SQL Server) "
            "or postgres (the ASPIRE emulator)"
        ) from None


def enrolled_accounts(target: psycopg.Connection) -> tuple[int, ...]:
    """The enrolled accounts from the portal's link table, validated (it is input from outside the sync)."""
    rows = target.execute(sqlfiles.read("sync/select_enrolled_accounts.sql")).fetchall()
    accounts = tuple(row[0] for row in rows)
    bad = [a for a in accounts if not isinstance(a, int) or a <= 0]
    if bad:
        raise ValueError(f"portal.portal_user_account holds account_oid values that are not positive: {bad[:5]}")
    return accounts


def render_extract(entity: Entity, kind: LoadKind, dialect: Dialect, *, scope_known: bool = False,
                   has_new_contracts: bool = False) -> str:
    """The extract statement of `entity` for one kind of load, in the source's dialect. `scope_known`: the load
    passes the in-scope contracts it read (parameter scoped_contracts) instead of the extract deriving them again;
    `has_new_contracts`: some contracts came into scope (parameter new_contracts)."""
    return sqlfiles.render(entity.extract_sql, dialect=dialect, load_kind=kind, scope_known=scope_known,
                           has_new_contracts=has_new_contracts)


class NotEnrolled(ValueError):
    """A load was asked for customers no portal user is linked to: their data must not enter the portal."""


def _enrolled_only(requested: Sequence[int], enrolled: Sequence[int]) -> tuple[int, ...]:
    missing = sorted(set(requested) - set(enrolled))
    if missing:
        raise NotEnrolled(f"customer(s) {missing} are not enrolled in the portal (no portal user is linked to them "
                          "in portal.portal_user_account); nothing of theirs is loaded")
    return tuple(requested)


def load_entity(
    source: Any,
    target: psycopg.Connection,
    request: LoadRequest,
    *,
    dialect: Dialect,
    batch_size: int = BATCH_SIZE,
) -> LoadResult:
    """Loads one entity from ASPIRE into the portal, in one portal transaction (see the module docstring)."""
    entity = request.entity
    result = LoadResult(entity=entity.name, load_kind=request.kind)
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    try:
        with target.transaction():
            target.execute(sqlfiles.render("sync/lock_entity_scope.sql",
                                           exclusive=request.kind == "full" and request.scope == "all"),
                           {"entity": entity.name})
            if request.kind == "incremental":
                target.execute(sqlfiles.read("sync/lock_entity.sql"), {"entity": entity.name})
                result.low_rowver = _watermark(target, entity)
            enrolled = enrolled_accounts(target)
            accounts = enrolled if request.accounts is None else _enrolled_only(request.accounts, enrolled)
            columns = _target_columns(target, entity)
            result.data_as_of = datetime.now(UTC)
            result.high_rowver = _read_bound(source)
            in_scope: list[int] | None = None
            new_contracts: list[int] = []
            if request.kind == "incremental" and entity.follows_contracts:
                in_scope = _scoped_contracts(source, accounts, dialect)
                new_contracts = _contracts_new_to_scope(target, entity, in_scope)
                result.new_contracts = len(new_contracts)
            parameters = {
                "accounts": json.dumps(list(accounts)),
                "scoped_contracts": json.dumps(in_scope or []),
                "new_contracts": json.dumps(new_contracts),
                "low_rowver": result.low_rowver,
                "high_rowver": result.high_rowver,
                "modified_from": request.modified_from,
                "modified_to": request.modified_to,
            }
            stage = sql.Identifier(f"stage_{entity.name}").as_string(target)
            quoted = [sql.Identifier(c).as_string(target) for c in columns]
            result.copied_directly = _first_load_of_empty_table(target, entity)
            if not result.copied_directly:
                target.execute(sqlfiles.render("load/create_stage.sql", stage=stage, target=entity.target_table,
                                               columns=quoted))
            extract = render_extract(entity, request.kind, dialect, scope_known=in_scope is not None,
                                     has_new_contracts=bool(new_contracts))
            phase = time.perf_counter()
            result.rows_read = _stream_rows(source, target, extract, parameters,
                                            entity.target_table if result.copied_directly else stage,
                                            quoted, columns, batch_size)
            if result.copied_directly:
                result.rows_inserted = result.rows_read
                result.seconds_extract = time.perf_counter() - phase
            else:
                target.execute(sqlfiles.render("load/analyze_stage.sql", stage=stage))
                result.seconds_extract, phase = time.perf_counter() - phase, time.perf_counter()
                result.rows_inserted, result.rows_updated = _merge(target, entity, stage, columns, started_at)
                result.seconds_merge, phase = time.perf_counter() - phase, time.perf_counter()
                if request.kind == "full":
                    others = None if request.scope == "all" or entity.owner in ("account", "shared") else (
                        _scoped_contracts(source, sorted(set(enrolled) - set(accounts)), dialect))
                    result.rows_deleted = _delete_missing(target, entity, stage, request, accounts, others,
                                                          result.high_rowver)
                result.seconds_delete = time.perf_counter() - phase
            if in_scope is not None:
                target.execute(sqlfiles.read("sync/replace_entity_contract_scope.sql"), {
                    "entity": entity.name, "in_scope": in_scope, "new_contracts": new_contracts})
            if request.kind == "incremental":
                target.execute(sqlfiles.read("sync/upsert_watermark.sql"), {
                    "entity": entity.name, "high_rowver": result.high_rowver,
                    "data_as_of": result.data_as_of, "run_id": request.run.run_id,
                })
            result.seconds = time.perf_counter() - clock
            _record(target, request, result, started_at, status="success")
    except Exception as error:
        result.seconds = time.perf_counter() - clock
        _record_failure(target, request, result, started_at, error)
        raise
    finally:
        _end_source_transaction(source)
    log.info("Loaded %s", result.summary())
    return result


def _watermark(target: psycopg.Connection, entity: Entity) -> int:
    row = target.execute(sqlfiles.read("sync/select_watermark.sql"), {"entity": entity.name}).fetchone()
    return row[0] if row else 0


def _scoped_contracts(source: Any, accounts: Sequence[int], dialect: Dialect) -> list[int]:
    """The contracts in scope in ASPIRE now for `accounts` (booked, one of them Customer or Guarantor)."""
    statement = sqlfiles.render("extract/select_scoped_contracts.sql", dialect=dialect, load_kind="full",
                                scope_known=False)
    with source.cursor() as cursor:
        cursor.execute(statement, {"accounts": json.dumps(list(accounts))})
        return sorted({int(row[0]) for row in cursor.fetchall()})


def _contracts_new_to_scope(target: psycopg.Connection, entity: Entity, in_scope: list[int]) -> list[int]:
    """The in-scope contracts whose rows this entity has not loaded since they came into scope (a booking or a new
    Guarantor role brought them in, maybe back in): their rows that already exist in ASPIRE, below the
    watermark, must come along."""
    known = {row[0] for row in target.execute(sqlfiles.read("sync/select_entity_contract_scope.sql"),
                                              {"entity": entity.name})}
    new = [c for c in in_scope if c not in known]
    if new:
        log.info("%d contract(s) came into scope since %s last loaded; loading their rows: %s",
                 len(new), entity.name, new[:20])
    return new


def _target_columns(target: psycopg.Connection, entity: Entity) -> list[str]:
    rows = target.execute(sqlfiles.read("load/select_target_columns.sql"), {"table": entity.target_table})
    columns = [row[0] for row in rows if row[0] != "synced_at"]
    if not columns:
        raise RuntimeError(f"target table {entity.target_table} does not exist; run the portal migrations first")
    missing = [k for k in entity.key if k not in columns]
    if missing:
        raise RuntimeError(f"target table {entity.target_table} lacks the key column(s) {missing}")
    return columns


def _read_bound(source: Any) -> int:
    with source.cursor() as cursor:
        cursor.execute(sqlfiles.read("extract/select_min_active_rowversion.sql"))
        (bound,) = cursor.fetchone()
    return int(bound)


def _first_load_of_empty_table(target: psycopg.Connection, entity: Entity) -> bool:
    """Whether the target is empty, and then locked against other writers for this transaction: a first load
    COPYs straight into it, since with no rows there is nothing to merge, compare or delete."""
    statement = sqlfiles.render("load/select_target_is_empty.sql", target=entity.target_table)
    if not target.execute(statement).fetchone()[0]:
        return False
    target.execute(sqlfiles.render("load/lock_target_for_first_load.sql", target=entity.target_table))
    return target.execute(statement).fetchone()[0]  # a writer that committed before the lock was granted


def _stream_rows(
    source: Any,
    target: psycopg.Connection,
    extract: str,
    parameters: dict[str, Any],
    table: str,
    quoted: list[str],
    columns: list[str],
    batch_size: int,
) -> int:
    """Streams the extract's rows from a server-side cursor into COPY to `table`, batch by batch; memory stays
    flat."""
    rows_read = 0
    with _server_side_cursor(source, batch_size) as cursor:
        cursor.execute(extract, parameters)
        _check_extract_columns([d[0] for d in cursor.description], columns)
        copy_sql = sqlfiles.render("load/copy_rows.sql", table=table,
                                   columns=[quoted[columns.index(d[0])] for d in cursor.description])
        with target.cursor() as tcur, tcur.copy(copy_sql) as copy:
            while batch := cursor.fetchmany(batch_size):
                for row in batch:
                    copy.write_row(row)
                rows_read += len(batch)
    return rows_read


def _server_side_cursor(source: Any, batch_size: int) -> Any:
    """A cursor that streams: a named (server-side) cursor on PostgreSQL; pymssql's cursors stream already.

    On PostgreSQL the values stay in their text form: COPY takes that text as it is, so parsing each value into
    a Python object only to format it back would be wasted work per row.
    """
    if isinstance(source, psycopg.Connection):
        cursor = source.cursor(name="aspire_extract")
        cursor.itersize = batch_size
        for type_name in _PASS_THROUGH_TYPES:
            cursor.adapters.register_loader(type_name, TextLoader)
        return cursor
    return source.cursor()  # pymssql streams rows as they are fetched


_PASS_THROUGH_TYPES = ("int2", "int4", "int8", "numeric", "float4", "float8", "bool", "date", "time", "timestamp",
                       "timestamptz")


def _check_extract_columns(returned: Sequence[str], expected: Sequence[str]) -> None:
    missing = [c for c in expected if c not in returned]
    extra = [c for c in returned if c not in expected]
    if missing or extra:
        raise RuntimeError(
            f"the extract does not match its target table: missing columns {missing}, unknown columns {extra}"
        )


def _merge(target: psycopg.Connection, entity: Entity, stage: str, columns: list[str],
           synced_at: datetime) -> tuple[int, int]:
    quote = lambda name: sql.Identifier(name).as_string(target)  # noqa: E731
    statement = sqlfiles.render(
        "load/merge_stage.sql",
        stage=stage,
        target=entity.target_table,
        key=[quote(k) for k in entity.key],
        columns=[quote(c) for c in columns],
        updated=[quote(c) for c in columns if c not in entity.key],
    )
    inserted, updated = target.execute(statement, {"synced_at": synced_at}).fetchone()
    return inserted, updated


def _delete_missing(target: psycopg.Connection, entity: Entity, stage: str, request: LoadRequest,
                    accounts: Sequence[int], others_contracts: list[int] | None, high_rowver: int) -> int:
    """Deletes what the full extract no longer returned. For a load of some customers, only rows that belong to
    them and not to another enrolled customer: `others_contracts` are the contracts in scope in ASPIRE for the
    other enrolled customers (read from the source, not from portal tables other loads are rewriting)."""
    statement = sqlfiles.render(
        "load/delete_missing.sql",
        stage=stage,
        target=entity.target_table,
        key=[sql.Identifier(k).as_string(target) for k in entity.key],
        scope=request.scope,
        owner=entity.owner,
    )
    parameters = {"accounts": list(accounts), "others_contracts": others_contracts or [], "high_rowver": high_rowver}
    (deleted,) = target.execute(statement, parameters).fetchone()
    return deleted


def _record(target: psycopg.Connection, request: LoadRequest, result: LoadResult, started_at: datetime, *,
            status: str, error: str | None = None) -> None:
    target.execute(sqlfiles.read("sync/insert_run_log.sql"), {
        "dag_id": request.run.dag_id,
        "run_id": request.run.run_id,
        "task_id": request.run.task_id,
        "entity": result.entity,
        "load_kind": result.load_kind,
        "customer_id": request.customer_id,
        "low_rowver": result.low_rowver,
        "high_rowver": result.high_rowver,
        "modified_from": request.modified_from,
        "modified_to": request.modified_to,
        "data_as_of": result.data_as_of,
        "started_at": started_at,
        "rows_read": result.rows_read,
        "rows_inserted": result.rows_inserted,
        "rows_updated": result.rows_updated,
        "rows_deleted": result.rows_deleted,
        "status": status,
        "error": error,
    })


def _record_failure(target: psycopg.Connection, request: LoadRequest, result: LoadResult, started_at: datetime,
                    error: BaseException) -> None:
    """Records a failed load in its own transaction; the load's own writes were rolled back."""
    message = f"{type(error).__name__}: {error}"[:4000]
    log.error("Load of %s failed after %.2fs, nothing written: %s", result.entity, result.seconds, message)
    try:
        if target.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            target.rollback()
        with target.transaction():
            _record(target, request, result, started_at, status="failed", error=message)
    except psycopg.Error as log_error:  # the portal itself may be what failed
        log.warning("Could not record the failure in aspire_sync.run_log: %s", log_error)


def _end_source_transaction(source: Any) -> None:
    """Ends the read transaction on ASPIRE, so no snapshot or lock outlives the load."""
    try:
        source.rollback()
    except Exception as error:  # noqa: BLE001 - a broken source connection is closed by its owner
        log.debug("Ending the ASPIRE read transaction failed: %s", error)
