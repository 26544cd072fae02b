"""The extract/load engine: ASPIRE rows -> server-side cursor -> COPY into a staging table -> one merge.

One call of :func:`load_entity` loads one entity in one portal transaction: the staged rows are merged
(newest ``source_rowver`` wins, unchanged rows are not written), a full load deletes what left its scope,
an incremental load moves the entity's watermark, and the run log records the counts, all committed together.
A failure rolls all of it back and records the error.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.abc import Buffer
from psycopg.adapt import Dumper, Loader
from psycopg.types.string import TextLoader

from aspire_portal import quarantine, reconcile, sqlfiles
from aspire_portal import scope as scope_state
from aspire_portal.catalogue import Entity

log = logging.getLogger(__name__)

LoadKind = Literal["full", "incremental", "backfill", "scope", "retry"]
Dialect = Literal["mssql", "postgres"]
DIALECTS: dict[str, Dialect] = {"mssql": "mssql", "postgres": "postgres", "postgresql": "postgres"}
BATCH_SIZE = 20_000


@dataclass(frozen=True)
class LockTimeouts:
    """How long a load waits for a lock before it fails (and its task retries), as PostgreSQL intervals.
    `coordination`: for its turn among the sync's own loads of the entity (a daily full load of it may hold that
    for minutes); `other`: for any other lock (a table an outside session holds), so no wait is a hang."""

    coordination: str = "10min"
    other: str = "2min"


class LockTimeout(RuntimeError):
    """A load waited longer than its lock timeout; nothing was written."""


@dataclass(frozen=True)
class RunContext:
    """Who asked for a load, for the run log."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None


@dataclass(frozen=True)
class LoadRequest:
    """What to load. `accounts` None means every enrolled account (the whole portal). Kind "scope" applies only
    the scope's entries and exits (a daily entity in the 15-minute run). `reconcile`: a full load over everyone
    measures the drift before its merge and checks it is zero after (see aspire_portal.reconcile)."""

    entity: Entity
    kind: LoadKind
    accounts: tuple[int, ...] | None = None
    customer_id: int | None = None
    modified_from: datetime | None = None
    modified_to: datetime | None = None
    run: RunContext = field(default_factory=RunContext)
    reconcile: bool = False

    def __post_init__(self) -> None:
        if self.reconcile and not (self.kind == "full" and self.accounts is None):
            raise ValueError(
                f"reconciling {self.entity.name} needs a full load over every enrolled customer, "
                f"not a {self.kind} load{' of some customers' if self.accounts else ''}"
            )

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
    new_accounts: int = 0
    new_contracts: int = 0
    exited_accounts: int = 0
    exited_contracts: int = 0
    data_as_of: datetime | None = None
    seconds: float = 0.0
    seconds_extract: float = 0.0  # server-side cursor -> COPY into the staging table
    seconds_merge: float = 0.0
    seconds_delete: float = 0.0
    seconds_reconcile: float | None = None  # the drift measured before the merge and checked after it (daily refresh)
    copied_directly: bool = False  # a first load into an empty table: no staging, merge or delete needed
    quarantined: list[quarantine.Quarantined] = field(default_factory=list)  # rows the portal could not take

    def summary(self) -> str:
        how = (
            "first load, copied straight into the empty table"
            if self.copied_directly
            else (
                f"extract {self.seconds_extract:.2f}s, merge {self.seconds_merge:.2f}s, "
                f"delete {self.seconds_delete:.2f}s"
                + (f", reconcile {self.seconds_reconcile:.2f}s" if self.seconds_reconcile is not None else "")
            )
        )
        scope = ""
        if self.new_accounts or self.new_contracts:
            scope += f", {self.new_accounts} account(s) and {self.new_contracts} contract(s) new to scope"
        if self.exited_accounts or self.exited_contracts:
            scope += f", {self.exited_accounts} account(s) and {self.exited_contracts} contract(s) left scope"
        if self.quarantined:
            scope += f", {len(self.quarantined)} row(s) quarantined (not written: see aspire_sync.source_quarantine)"
        return (
            f"{self.entity} ({self.load_kind}): read {self.rows_read}, inserted {self.rows_inserted}, "
            f"updated {self.rows_updated}, deleted {self.rows_deleted} in {self.seconds:.2f}s ({how}){scope} "
            f"(row versions [{self.low_rowver}, {self.high_rowver}), data as of "
            f"{self.data_as_of.isoformat() if self.data_as_of else 'unknown'})"
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


def render_extract(
    entity: Entity,
    kind: LoadKind,
    dialect: Dialect,
    *,
    scope_known: bool = True,
    short_lists: dict[str, int] | None = None,
) -> str:
    """The extract statement of `entity` for one kind of load, in the source's dialect. `scope_known`: the load
    passes the in-scope contracts (parameter scoped_contracts) instead of the extract deriving them.
    `short_lists`: the id lists bound id by id (parameter -> length; see sqlfiles.id_lists)."""
    return sqlfiles.render(
        entity.extract_sql,
        dialect=dialect,
        load_kind=kind,
        scope_known=scope_known,
        short_lists=short_lists or {},
        retry_column=entity.source_key[0],
    )


NotEnrolled = scope_state.NotEnrolled
EnrolmentUnreadable = scope_state.EnrolmentUnreadable


Checkpoint = Callable[[str], None]
"""Called by a load at named points of its transaction ("merged", "deleted", "before_commit"): a seam for tests
that interleave loads at their commit points."""


RemovalGuard = scope_state.RemovalGuard
MassRemoval = scope_state.MassRemoval
_GUARD = RemovalGuard()


class _DropsNeedTheEntity(Exception):
    """The load's plan lets go of accounts or contracts the entity holds: it re-runs with the entity to itself."""


def load_entity(
    source: Any,
    target: psycopg.Connection,
    request: LoadRequest,
    *,
    dialect: Dialect,
    batch_size: int = BATCH_SIZE,
    scope: scope_state.Scope | None = None,
    timeouts: LockTimeouts = LockTimeouts(),
    guard: RemovalGuard = _GUARD,
    checkpoint: Checkpoint | None = None,
) -> LoadResult:
    """Loads one entity from ASPIRE into the portal, in one portal transaction (see the module docstring).

    The road: catalogue -> scope (what to read, what left) -> extract -> stage -> merge -> delete -> held scope and
    watermark. `scope`: the run's resolved scope (else the one the run persisted, else resolved now).

    A load shares its entity with the other loads of it, except a full load over everyone and a load whose plan
    lets go of accounts or contracts the entity holds: that one restarts with the entity to itself, so no other load
    can add rows of an account while it decides the portal holds none (see docs: held scope).
    """
    entity = request.entity
    result = LoadResult(entity=entity.name, load_kind=request.kind)
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    drift = log_id = None
    try:
        target.execute(sqlfiles.read("sync/insert_sync_lock.sql"), {"entity": entity.name})
        log_id = _start_log(target, request, result, started_at)
        exclusive = _over_everyone(request)
        while True:
            result = LoadResult(entity=entity.name, load_kind=request.kind)
            try:
                with target.transaction():
                    drift = _load_in_turn(
                        source,
                        target,
                        request,
                        result,
                        dialect,
                        batch_size,
                        scope,
                        timeouts,
                        guard,
                        checkpoint or _no_checkpoint,
                        exclusive=exclusive,
                        started_at=started_at,
                    )
                    result.seconds = time.perf_counter() - clock
                    _record(target, request, result, started_at, status="success", log_id=log_id)
                break
            except _DropsNeedTheEntity:
                log.info(
                    "%s: the plan lets go of accounts or contracts the entity holds; taking the entity to "
                    "itself and planning again",
                    entity.name,
                )
                exclusive = True
    except psycopg.errors.LockNotAvailable as error:
        result.seconds = time.perf_counter() - clock
        timeout = LockTimeout(
            f"the load of {entity.name} waited longer than its lock timeout (coordination {timeouts.coordination}, "
            f"other locks {timeouts.other}) for a lock another session holds{_where(error)}; nothing was written "
            "and the task retries. See the runbook, 'A load waits for a lock'."
        )
        _record_failure(target, request, result, started_at, timeout, log_id)
        raise timeout from error
    except Exception as error:
        result.seconds = time.perf_counter() - clock
        _record_failure(target, request, result, started_at, error, log_id)
        raise
    finally:
        _end_source_transaction(source)
    log.info("Loaded %s", result.summary())
    if drift and not drift[1].is_zero:
        raise reconcile.Drifted(*drift)
    return result


def record_refusal(target: psycopg.Connection, request: LoadRequest, error: BaseException) -> None:
    """Records in the run log a load that was refused before it began (its run's scope resolution refused a mass
    removal), so `status` and `explain` show the entity failing with the reason."""
    result = LoadResult(entity=request.entity.name, load_kind=request.kind)
    _record_failure(target, request, result, datetime.now(UTC), error)


def _no_checkpoint(_point: str) -> None:
    pass


def _load_in_turn(
    source: Any,
    target: psycopg.Connection,
    request: LoadRequest,
    result: LoadResult,
    dialect: Dialect,
    batch_size: int,
    scope: scope_state.Scope | None,
    timeouts: LockTimeouts,
    guard: RemovalGuard,
    checkpoint: Checkpoint,
    *,
    exclusive: bool,
    started_at: datetime,
) -> tuple[reconcile.Drift, reconcile.Drift] | None:
    """The load's transaction, from its turn among the loads of its entity to the watermark; the drift measured
    before and after, when it reconciles."""
    entity = request.entity
    drift = None
    _take_turn(target, request, timeouts, exclusive=exclusive)
    if not _over_everyone(request):  # short statements: compiling them (JIT) cost more than running them
        target.execute(sqlfiles.read("sync/set_jit_off.sql"))
    if request.kind == "incremental":
        result.low_rowver = _watermark(target, entity)
    described = _described_columns(target, entity)
    columns = [c.name for c in described]
    retry = quarantine.retry_keys(target, entity)
    result.high_rowver = read_bound(source, target, dialect)
    result.data_as_of = data_as_of(target, result.high_rowver)
    resolved, plan = _plan(source, target, request, dialect, scope, guard)
    if plan.lets_go and not exclusive:
        raise _DropsNeedTheEntity
    result.new_accounts, result.new_contracts = len(plan.new_accounts), len(plan.new_contracts)
    result.exited_accounts, result.exited_contracts = len(plan.gone_accounts), len(plan.gone_contracts)
    passes = _extract_passes(entity, request, plan, result.low_rowver, retry)
    result.copied_directly = len(passes) == 1 and not request.reconcile and _first_load_of_empty_table(target, entity)
    stage, quoted = _stage_table(target, entity, described, create=not result.copied_directly)
    phase = time.perf_counter()
    extract = (source, target, request, result, passes, dialect, quoted, columns, batch_size, retry)
    diverted: list[quarantine.Diverted] = []
    if result.copied_directly:
        try:
            with target.transaction():  # a savepoint: a row the table cannot take sends the load through a stage
                _extract(*extract, into=entity.target_table)
        except quarantine.ROW_ERRORS + quarantine.COPY_ERRORS as error:
            log.warning(
                "A row of %s cannot go into the portal as it is (%s); staging the first load instead, so "
                "every other row loads",
                entity.name,
                str(error).splitlines()[0],
            )
            result.copied_directly, result.rows_read = False, 0
            _stage_table(target, entity, described)
    if not result.copied_directly:
        diverted = _extract_into_stage(extract, stage, target)
    if result.copied_directly:
        result.rows_inserted = result.rows_read
        result.seconds_extract = time.perf_counter() - phase
        checkpoint("merged")
    else:
        target.execute(sqlfiles.render("load/analyze_stage.sql", stage=stage))
        result.seconds_extract, phase = time.perf_counter() - phase, time.perf_counter()
        before = _drift_before(target, request, stage, columns, result, plan)
        if before is not None:
            result.seconds_reconcile, phase = time.perf_counter() - phase, time.perf_counter()
        rejected = quarantine.create_rejected(target, entity, stage, columns) if diverted else None
        if diverted:
            quarantine.divert(target, entity, rejected, columns, diverted)
        merged = _merge(
            target,
            entity,
            stage,
            described,
            started_at,
            dedupe=len(passes) > 1,
            repair=request.reconcile,
            rejected=rejected,
        )
        result.rows_inserted, result.rows_updated = merged.inserted, merged.updated
        if merged.rejected:
            result.quarantined = quarantine.keep(target, entity, stage, merged.rejected, columns, request.run.run_id)
        retried = retry if any(kind == "retry" for kind, _a, _c in passes) else []
        if retry or merged.rejected:
            quarantine.release(target, entity, stage, merged.rejected, retried, everyone=_over_everyone(request))
        checkpoint("merged")
        result.seconds_merge, phase = time.perf_counter() - phase, time.perf_counter()
        deleted = _delete(source, target, entity, request, dialect, stage, plan, resolved, result, batch_size)
        result.rows_deleted = deleted.rows
        _guard_rows(target, request, result, guard)
        plan = plan.keeping(deleted.kept_accounts, deleted.kept_contracts)
        checkpoint("deleted")
        result.seconds_delete, phase = time.perf_counter() - phase, time.perf_counter()
        if before is not None:
            drift = before, reconcile.confirm(target, entity, stage, columns, before, request.run)
            result.seconds_reconcile += time.perf_counter() - phase
    scope_state.record_held(target, entity, plan)
    if request.kind == "incremental":
        target.execute(
            sqlfiles.read("sync/upsert_watermark.sql"),
            {
                "entity": entity.name,
                "high_rowver": result.high_rowver,
                "data_as_of": result.data_as_of,
                "run_id": request.run.run_id,
            },
        )
    checkpoint("before_commit")
    return drift


def _guard_rows(target: psycopg.Connection, request: LoadRequest, result: LoadResult, guard: RemovalGuard) -> None:
    """Refuses (the load's transaction rolls back) a load that removed too many of its entity's rows."""
    if not guard.trips(result.rows_deleted, result.rows_deleted):  # a first, cheap test: most loads delete little
        return
    remaining = target.execute(sqlfiles.render("load/select_row_count.sql", target=request.entity.target_table))
    before = remaining.fetchone()[0] + result.rows_deleted - result.rows_inserted
    if guard.trips(result.rows_deleted, before):
        raise MassRemoval(
            f"the load of {request.entity.name} would remove {result.rows_deleted:,} of the {before:,} rows of "
            f"{request.entity.target_table} ({result.rows_deleted / max(before, 1):.0%}) in one run: more than the "
            f"guard allows ({guard.max_fraction:.0%} and more than {guard.floor:,} rows). Nothing was written. "
            + _MASS_REMOVAL_ADVICE.format(dag=request.run.dag_id or "<dag>")
        )


_MASS_REMOVAL_ADVICE = scope_state.MASS_REMOVAL_ADVICE


def stage_scope(
    source: Any,
    target: psycopg.Connection,
    entity: Entity,
    dialect: Dialect,
    resolved: scope_state.Scope,
    plan: scope_state.Plan,
    batch_size: int = BATCH_SIZE,
) -> tuple[str, list[str]]:
    """Extracts the entity's rows in `resolved` (every enrolled customer's scope; `plan`: its plan_everyone) into its
    temp staging table, in the caller's transaction, writing nothing else; the stage and its columns (reconciliation
    on demand reads this)."""
    described = _described_columns(target, entity)
    columns = [c.name for c in described]
    stage, quoted = _stage_table(target, entity, described)
    request = LoadRequest(entity=entity, kind="full")
    result = LoadResult(entity=entity.name, load_kind="full", high_rowver=resolved.read_bound)
    short_lists, parameters = _parameters(request, result, plan.accounts, plan.contracts)
    _stream_rows(
        source,
        target,
        render_extract(entity, "full", dialect, short_lists=short_lists),
        parameters,
        stage,
        quoted,
        columns,
        batch_size,
    )
    target.execute(sqlfiles.render("load/analyze_stage.sql", stage=stage))
    return stage, columns


def _stage_table(
    target: psycopg.Connection, entity: Entity, described: list[quarantine.Column], *, create: bool = True
) -> tuple[str, list[str]]:
    """The load's temp staging table (created unless `create` is False), its columns wider than the target's (see
    aspire_portal.quarantine), and the quoted column names."""
    stage = sql.Identifier(f"stage_{entity.name}").as_string(target)
    quoted = [sql.Identifier(c.name).as_string(target) for c in described]
    if create:
        columns = [(name, column.staged) for name, column in zip(quoted, described, strict=True)]
        target.execute(sqlfiles.render("load/create_stage.sql", stage=stage, columns=columns))
    return stage, quoted


def _extract(
    source: Any,
    target: psycopg.Connection,
    request: LoadRequest,
    result: LoadResult,
    passes: list[tuple[LoadKind, tuple[int, ...], tuple[int, ...]]],
    dialect: Dialect,
    quoted: list[str],
    columns: list[str],
    batch_size: int,
    retry: list[int],
    *,
    into: str,
    diverted: list[quarantine.Diverted] | None = None,
) -> None:
    """Streams every extract pass of the load into `into` (the stage, or a first load's empty target)."""
    for kind, accounts, contracts in passes:
        short_lists, parameters = _parameters(request, result, accounts, contracts, retry if kind == "retry" else None)
        result.rows_read += _stream_rows(
            source,
            target,
            render_extract(request.entity, kind, dialect, short_lists=short_lists),
            parameters,
            into,
            quoted,
            columns,
            batch_size,
            diverted,
        )


def _extract_into_stage(extract: tuple, stage: str, target: psycopg.Connection) -> list[quarantine.Diverted]:
    """The load's extract passes into its stage; when COPY fails on a value no column can hold, again with every row
    screened: the rows held back are returned, every other row is staged."""
    try:
        with target.transaction():  # a savepoint: the failed COPY is undone, the stage stays
            _extract(*extract, into=stage)
        return []
    except quarantine.COPY_ERRORS as error:
        log.warning(
            "COPY into %s failed on a value (%s); extracting again with every row screened",
            stage,
            str(error).splitlines()[0],
        )
    extract[3].rows_read = 0  # the result: counted again
    diverted: list[quarantine.Diverted] = []
    _extract(*extract, into=stage, diverted=diverted)
    return diverted


def _drift_before(
    target: psycopg.Connection,
    request: LoadRequest,
    stage: str,
    columns: list[str],
    result: LoadResult,
    plan: scope_state.Plan,
) -> reconcile.Drift | None:
    """What ASPIRE's staged rows and the portal disagree on before the merge, when the load reconciles."""
    if not request.reconcile:
        return None
    return reconcile.compare(
        target,
        request.entity,
        stage,
        columns,
        phase="before",
        read_bound=result.high_rowver,
        pending_from=reconcile.pending_from(target, request.entity, result.high_rowver),
        scope_changes=reconcile.scope_changes(plan),
    )


def _take_turn(target: psycopg.Connection, request: LoadRequest, timeouts: LockTimeouts, *, exclusive: bool) -> None:
    """Waits (at most `timeouts.coordination`) for this load's turn among the loads of its entity: row locks on
    aspire_sync.sync_lock, which only the sync's role can take (`exclusive`: the entity to itself); then bounds every
    later lock wait of the transaction by `timeouts.other`."""
    entity = {"entity": request.entity.name}
    target.execute(sqlfiles.read("sync/set_lock_timeout.sql"), {"timeout": timeouts.coordination})
    target.execute(sqlfiles.render("sync/lock_entity_scope.sql", exclusive=exclusive), entity)
    if request.kind == "incremental":
        target.execute(sqlfiles.read("sync/lock_entity.sql"), entity)
    target.execute(sqlfiles.read("sync/set_lock_timeout.sql"), {"timeout": timeouts.other})


def _where(error: psycopg.Error) -> str:
    context = (error.diag.context or "").strip().splitlines()
    return f" ({context[0]})" if context else ""


def _over_everyone(request: LoadRequest) -> bool:
    return request.kind == "full" and request.scope == "all"


def _plan(
    source: Any,
    target: psycopg.Connection,
    request: LoadRequest,
    dialect: Dialect,
    scope: scope_state.Scope | None,
    guard: RemovalGuard,
) -> tuple[scope_state.Scope, scope_state.Plan]:
    """The scope this load works in, and what it reads, deletes and records of it."""
    entity = request.entity
    run = request.run
    if _over_everyone(request):
        resolved = scope_state.resolve(source, target, dialect, persist=False, dag_id=run.dag_id, guard=guard)
        return resolved, scope_state.plan_everyone(
            entity, resolved, scope_state.held(target, entity, resolved.resolved_at)
        )
    resolved = scope or scope_state.for_run(target, run.dag_id, run.run_id)
    if resolved is None or resolved.customers != (None if request.accounts is None else frozenset(request.accounts)):
        resolved = scope_state.resolve(
            source, target, dialect, customers=request.accounts, dag_id=run.dag_id, run_id=run.run_id, guard=guard
        )
    state = scope_state.held(target, entity, resolved.resolved_at)
    if request.kind == "full":
        before = scope_state.contracts_before(target, resolved)
        return resolved, scope_state.plan_customers(entity, resolved, state, before)
    return resolved, scope_state.plan_changes(entity, resolved, state)


def _extract_passes(
    entity: Entity, request: LoadRequest, plan: scope_state.Plan, low_rowver: int | None, retry: list[int] = ()
) -> list[tuple[LoadKind, tuple[int, ...], tuple[int, ...]]]:
    """The extracts a load runs, each (kind, accounts, contracts): the whole scope (full); the changes in the
    window (incremental, backfill) and, in full, what entered the scope; or only what entered (scope). A first
    window (from row version 0) holds every row already, entries included. Shared reference data (scenarios) that
    some contracts left is read whole for what still justifies it (a handful of rows), so its delete can see which
    rows no contract uses any more. Quarantined rows (`retry`: their first key column) are read again by key, so they
    load on the first run after ASPIRE fixed them; a full load reads them with the rest."""
    if request.kind == "full":
        return [("full", plan.accounts, plan.contracts)]
    if entity.owner == "shared" and plan.has_exits:
        return [("full", (), tuple(sorted(plan.keep_contracts)))]
    passes: list[tuple[LoadKind, tuple[int, ...], tuple[int, ...]]] = []
    if request.kind in ("incremental", "backfill"):
        passes.append((request.kind, plan.accounts, plan.contracts))
    if plan.has_entries and not (request.kind == "incremental" and low_rowver == 0):
        passes.append(("full", plan.new_accounts, plan.new_contracts))
    if retry:
        passes.append(("retry", plan.accounts, plan.contracts))
    return passes


def _window(request: LoadRequest, result: LoadResult) -> dict[str, Any]:
    """The parameters of the load's change window (row versions, or LastModifiedAt for a backfill)."""
    return {
        "low_rowver": result.low_rowver,
        "high_rowver": result.high_rowver,
        "modified_from": request.modified_from,
        "modified_to": request.modified_to,
    }


def _parameters(
    request: LoadRequest,
    result: LoadResult,
    accounts: Sequence[int],
    contracts: Sequence[int],
    retry: Sequence[int] | None = None,
) -> tuple[dict[str, int], dict[str, Any]]:
    """The extract's parameters, and which id lists are short enough to bind id by id (see `id_list`); `retry`: the
    keys a retry pass reads again."""
    lists: dict[str, Sequence[int]] = {"accounts": accounts, "scoped_contracts": contracts}
    if retry is not None:
        lists["retry_keys"] = retry
    short_lists, parameters = sqlfiles.id_lists(**lists)
    return short_lists, {**_window(request, result), **parameters}


@dataclass(frozen=True)
class Deleted:
    """What a load's deletes removed, and the accounts and contracts of the rows they had to keep (at or above the
    read bound: a newer read wrote them), which the entity must go on holding."""

    rows: int = 0
    kept_accounts: frozenset[int] = frozenset()
    kept_contracts: frozenset[int] = frozenset()


def _delete(
    source: Any,
    target: psycopg.Connection,
    entity: Entity,
    request: LoadRequest,
    dialect: Dialect,
    stage: str,
    plan: scope_state.Plan,
    resolved: scope_state.Scope,
    result: LoadResult,
    batch_size: int,
) -> Deleted:
    """Deletes what this load's scope no longer holds: everything the extract did not return (a full load over
    everyone); the re-read customers' rows it did not return (a full load of some); or, in the 15-minute run, the
    rows changed in the window that left the scope and the rows of the accounts and contracts that left it. A load
    that lets go of accounts or contracts also learns which of their rows it had to keep."""
    key = [sql.Identifier(k).as_string(target) for k in entity.key]
    bound = {"high_rowver": result.high_rowver}
    shared_exits = entity.owner == "shared" and plan.has_exits and request.kind != "full"  # read whole for everyone
    if _over_everyone(request) or shared_exits:
        return _deleted_missing(target, entity, stage, key, plan, bound)
    rows = 0
    if request.kind in ("incremental", "backfill"):
        rows += _delete_departed(source, target, entity, request, dialect, stage, key, result, batch_size)
    if not (request.kind == "full" or plan.has_exits):
        return Deleted(rows)
    invoices = scope_state.unjustified_invoices(source, dialect, plan) if entity.owner == "invoice" else []
    mode = "missing" if request.kind == "full" else "exits"
    parameters = {
        **bound,
        "entity": entity.name,
        "resolution_id": resolved.resolution_id,
        "resolved_at": resolved.resolved_at,
        "excluded_accounts": sorted(resolved.customers or ()) if request.kind == "full" else [],
        "own_contracts": list(plan.gone_contracts) if request.kind == "full" else [],
        "accounts": list(plan.gone_accounts),
        "contracts": list(plan.gone_contracts),
        "invoices": invoices,
    }
    shape = {"stage": stage, "target": entity.target_table, "key": key, "owner": entity.owner, "mode": mode}
    rows += target.execute(sqlfiles.render("load/delete_out_of_scope.sql", **shape), parameters).fetchone()[0]
    if not plan.lets_go:
        return Deleted(rows)
    kept = target.execute(sqlfiles.render("load/select_kept_out_of_scope.sql", **shape), parameters).fetchone()
    return _kept(kept, plan, rows)


def _deleted_missing(
    target: psycopg.Connection,
    entity: Entity,
    stage: str,
    key: list[str],
    plan: scope_state.Plan,
    bound: dict[str, int],
) -> Deleted:
    """Deletes the target rows the stage lacks (below the read bound), and what of those it let go of it had to keep."""
    statement = sqlfiles.render(
        "load/delete_missing.sql", stage=stage, target=entity.target_table, key=key, changed=None
    )
    rows = target.execute(statement, bound).fetchone()[0]
    if not plan.lets_go:
        return Deleted(rows)
    kept = sqlfiles.render(
        "load/select_kept_missing.sql", stage=stage, target=entity.target_table, key=key, owner=entity.owner
    )
    return _kept(target.execute(kept, bound).fetchone(), plan, rows)


def _kept(row: tuple[list[int], list[int], int], plan: scope_state.Plan, rows: int) -> Deleted:
    """The Deleted of a load that lets go of accounts or contracts, from the owners of the rows it had to keep.
    Invoice details name no account, shared reference data no owner at all: any kept row of theirs keeps every
    account and contract the load would let go of."""
    accounts, contracts, kept_rows = row
    if kept_rows and not (accounts or contracts):
        accounts, contracts = plan.drop_accounts, plan.drop_contracts
    if kept_rows:
        log.info(
            "Kept %d row(s) at or above the read bound of account(s)/contract(s) that left the scope; the entity "
            "goes on holding them until a run whose bound is past them removes them",
            kept_rows,
        )
    return Deleted(rows, frozenset(accounts), frozenset(contracts))


def _delete_departed(
    source: Any,
    target: psycopg.Connection,
    entity: Entity,
    request: LoadRequest,
    dialect: Dialect,
    stage: str,
    key: list[str],
    result: LoadResult,
    batch_size: int,
) -> int:
    """Deletes the rows ASPIRE changed in the window that the extract did not return (they left the scope)."""
    changed = sql.Identifier(f"changed_{entity.name}").as_string(target)
    target.execute(
        sqlfiles.render("load/create_changed_keys.sql", changed=changed, target=entity.target_table, key=key)
    )
    statement = sqlfiles.render(
        "extract/select_changed_keys.sql",
        dialect=dialect,
        load_kind=request.kind,
        source_table=entity.source_table,
        parent=entity.parent,
        keys=list(zip(entity.source_key, entity.key, strict=True)),
    )
    _stream_rows(source, target, statement, _window(request, result), changed, key, list(entity.key), batch_size)
    target.execute(sqlfiles.render("load/analyze_stage.sql", stage=changed))
    return target.execute(
        sqlfiles.render("load/delete_missing.sql", changed=changed, stage=stage, target=entity.target_table, key=key),
        {"high_rowver": result.high_rowver},
    ).fetchone()[0]


def _watermark(target: psycopg.Connection, entity: Entity) -> int:
    row = target.execute(sqlfiles.read("sync/select_watermark.sql"), {"entity": entity.name}).fetchone()
    return row[0] if row else 0


def sample_read_bound(source: Any, dialect: str) -> tuple[int, datetime, int]:
    """ASPIRE's read bound (MIN_ACTIVE_ROWVERSION()), its clock (UTC) and its newest row version (@@DBTS), read
    without writing anything."""
    with source.cursor() as cursor:
        cursor.execute(sqlfiles.render("extract/select_min_active_rowversion.sql", dialect=dialect))
        bound, sampled_at, dbts = cursor.fetchone()
    if sampled_at.tzinfo is None:
        sampled_at = sampled_at.replace(tzinfo=UTC)
    return int(bound), sampled_at, int(dbts)


def read_bound(source: Any, target: psycopg.Connection, dialect: Dialect) -> int:
    """ASPIRE's read bound (MIN_ACTIVE_ROWVERSION()), with a sample of its clock kept for "data as of"."""
    bound, sampled_at, dbts = sample_read_bound(source, dialect)
    target.execute(sqlfiles.read("sync/insert_aspire_clock.sql"), {"sampled_at": sampled_at, "dbts": dbts})
    if dbts >= bound:
        log.info(
            "ASPIRE read bound %d: a transaction open on ASPIRE since row version %d holds it back (newest "
            'row version %d); rows it writes wait for the next run and "data as of" stays before it',
            bound,
            bound,
            dbts,
        )
    return bound


def data_as_of(target: psycopg.Connection, high_rowver: int) -> datetime | None:
    """The time every ASPIRE transaction committed before is below `high_rowver` (see aspire_sync.aspire_clock)."""
    return target.execute(sqlfiles.read("sync/select_data_as_of.sql"), {"high_rowver": high_rowver}).fetchone()[0]


def _target_columns(target: psycopg.Connection, entity: Entity) -> list[str]:
    return [c.name for c in _described_columns(target, entity)]


def _described_columns(target: psycopg.Connection, entity: Entity) -> list[quarantine.Column]:
    """The target's columns with their types; a clear error when the table or its key is missing."""
    described = quarantine.target_columns(target, entity)
    columns = [c.name for c in described]
    if not columns:
        raise RuntimeError(f"target table {entity.target_table} does not exist; run the portal migrations first")
    missing = [k for k in entity.key if k not in columns]
    if missing:
        raise RuntimeError(f"target table {entity.target_table} lacks the key column(s) {missing}")
    return described


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
    diverted: list[quarantine.Diverted] | None = None,
) -> int:
    """Streams the extract's rows from a server-side cursor into COPY to `table`, batch by batch; memory stays
    flat. Text rows (the emulator's pass-through) go in as text COPY; typed rows (ASPIRE's, through pymssql) as
    binary COPY when their types allow it (see `_binary_copy_types`): the portal then parses nothing. With `diverted`
    (after a COPY failed on a value), each row is screened first and those no column could hold are held back there."""
    rows_read = 0
    with _server_side_cursor(source, batch_size) as cursor:
        cursor.execute(extract, parameters)
        names = [d[0] for d in cursor.description]
        _check_extract_columns(names, columns)
        batch = cursor.fetchmany(batch_size)
        with target.cursor() as tcur:
            types = _binary_copy_types(tcur, table, names, batch) if _rows_are_typed(source) else None
            log.debug("COPY into %s: %s", table, "binary" if types is not None else "text")
            copy_sql = sqlfiles.render(
                "load/copy_rows.sql",
                table=table,
                binary=types is not None,
                columns=[quoted[columns.index(name)] for name in names],
            )
            with tcur.copy(copy_sql) as copy:
                if types is not None:
                    copy.set_types(types)
                while batch:
                    if diverted is None:
                        for row in batch:
                            copy.write_row(row)
                    else:
                        _write_screened(copy, names, batch, diverted)
                    rows_read += len(batch)
                    batch = cursor.fetchmany(batch_size)
    return rows_read


def _write_screened(copy: Any, names: list[str], batch: list, diverted: list[quarantine.Diverted]) -> None:
    """Writes the rows of `batch` that COPY can take; holds back, in `diverted`, those it cannot."""
    for row in batch:
        problem = quarantine.unfit(names, row)
        if problem is None:
            try:
                copy.write_row(row)
                continue
            except quarantine.COPY_ERRORS as error:  # a value psycopg refuses before it is sent
                problem = f"a value COPY cannot take: {str(error).splitlines()[0]}"
        diverted.append(quarantine.Diverted(dict(zip(names, row, strict=True)), problem))


def _rows_are_typed(source: Any) -> bool:
    """Whether the source hands Python objects (pymssql always; the emulator unless it passes text through)."""
    return not (isinstance(source, psycopg.Connection) and _TEXT_PASS_THROUGH)


def _binary_copy_types(
    cursor: psycopg.Cursor, table: str, names: Sequence[str], sample: Sequence[Sequence[Any]]
) -> list[int] | None:
    """The type of each of `names` in `table`, for a binary COPY of typed rows (set_types); None for a text COPY.

    Binary only when every column's type is one of `_BINARY_COPY_TAKES` and the first value of each column in
    `sample` (the first batch) is of a Python type its dumper takes: a source column of another type (a float
    for a numeric column, a UUID for a varchar) goes in as text, which the portal converts as before. Binary COPY
    wraps an integer too large for an int2 or int4 column, so those columns take dumpers that refuse it.
    """
    types = {
        name: (oid, type_name)
        for name, oid, type_name in cursor.execute(sqlfiles.read("load/select_copy_types.sql"), {"table": table})
    }
    chosen = []
    for position, name in enumerate(names):
        oid, type_name = types[name]
        takes = _BINARY_COPY_TAKES.get(type_name)
        first = next((row[position] for row in sample if row[position] is not None), None)
        if takes is None or not (first is None or isinstance(first, takes)):
            return None
        chosen.append(psycopg.postgres.types["text"].oid if type_name == "bpchar" else oid)  # same bytes as text
    for checked in (_Int2BinaryDumper, _Int4BinaryDumper):
        cursor.adapters.register_dumper(None, checked)
    return chosen


_BINARY_COPY_TAKES: dict[str, type | tuple[type, ...]] = {
    "int2": int,
    "int4": int,
    "int8": int,
    "numeric": (Decimal, int),
    "bool": bool,
    "date": date,
    "timestamp": datetime,
    "varchar": str,
    "bpchar": str,
    "text": str,
}
"""The portal's column types binary COPY is used for, and the Python values (what pymssql hands) it takes."""


class _Int4BinaryDumper(Dumper):
    """int4 for binary COPY that refuses a value out of range (psycopg's own keeps its low 32 bits)."""

    format = psycopg.pq.Format.BINARY
    oid = psycopg.postgres.types["int4"].oid
    type_name, _pack = "integer", struct.Struct("!i").pack

    def dump(self, obj: int) -> bytes:
        try:
            return self._pack(obj)
        except struct.error:
            raise psycopg.DataError(f"{obj!r} does not fit a column of type {self.type_name}") from None


class _Int2BinaryDumper(_Int4BinaryDumper):
    """int2 for binary COPY that refuses a value out of range (psycopg's own keeps its low 16 bits)."""

    oid = psycopg.postgres.types["int2"].oid
    type_name, _pack = "smallint", struct.Struct("!h").pack


def _server_side_cursor(source: Any, batch_size: int) -> Any:
    """A cursor that streams: a named (server-side) cursor on PostgreSQL; pymssql's cursors stream already.

    On PostgreSQL the values stay in their text form: COPY takes that text as it is, so parsing each value into
    a Python object only to format it back would be wasted work per row. With `_TEXT_PASS_THROUGH` off they become
    the Python objects pymssql hands from ASPIRE (a bit as bool, which the emulator keeps as smallint).
    """
    if isinstance(source, psycopg.Connection):
        cursor = source.cursor(name="aspire_extract")
        cursor.itersize = batch_size
        if _TEXT_PASS_THROUGH:
            for type_name in _PASS_THROUGH_TYPES:
                cursor.adapters.register_loader(type_name, TextLoader)
        else:
            cursor.adapters.register_loader("int2", _BitLoader)
        return cursor
    return source.cursor()  # pymssql streams rows as they are fetched


_PASS_THROUGH_TYPES = (
    "int2",
    "int4",
    "int8",
    "numeric",
    "float4",
    "float8",
    "bool",
    "date",
    "time",
    "timestamp",
    "timestamptz",
)

_TEXT_PASS_THROUGH = True
"""Whether a PostgreSQL source (the emulator) hands its values as text. Off, the rows are what production's rows
are: `make bench`'s engine_typed and tests/test_engine_typed.py turn it off to measure and check that path."""


class _BitLoader(Loader):
    """An emulated ASPIRE bit (smallint 0 or 1) as the bool pymssql makes of a bit."""

    def load(self, data: Buffer) -> bool:
        return bytes(data) != b"0"


def _check_extract_columns(returned: Sequence[str], expected: Sequence[str]) -> None:
    missing = [c for c in expected if c not in returned]
    extra = [c for c in returned if c not in expected]
    if missing or extra:
        raise RuntimeError(
            f"the extract does not match its target table: missing columns {missing}, unknown columns {extra}"
        )


@dataclass(frozen=True)
class Merged:
    """What a merge wrote, and the table of the rows it (or the extract before it) rejected, if any."""

    inserted: int
    updated: int
    rejected: str | None = None


def _merge(
    target: psycopg.Connection,
    entity: Entity,
    stage: str,
    described: list[quarantine.Column],
    synced_at: datetime,
    *,
    dedupe: bool = False,
    repair: bool = False,
    rejected: str | None = None,
) -> Merged:
    """Merges the stage into the target. A row the target cannot take fails the merge (rolled back to a savepoint):
    then the merge runs again with every row checked, writes the others and rejects those (into `rejected`, created
    if the extract rejected none)."""
    quote = lambda name: sql.Identifier(name).as_string(target)  # noqa: E731
    columns = [c.name for c in described]
    shape = {
        "stage": stage,
        "target": entity.target_table,
        "key": [quote(k) for k in entity.key],
        "columns": [quote(c) for c in columns],
        "updated": [quote(c) for c in columns if c not in entity.key],
        "dedupe": dedupe,
        "repair": repair,
    }
    try:
        with target.transaction():
            inserted, updated, _none = target.execute(
                sqlfiles.render("load/merge_stage.sql", checks=None, **shape), {"synced_at": synced_at}
            ).fetchone()
        return Merged(inserted, updated, rejected)
    except quarantine.ROW_ERRORS as error:
        log.warning(
            "The merge of %s failed on a row the portal cannot take (%s); merging again with every row checked",
            entity.name,
            str(error).splitlines()[0],
        )
    rejected = rejected or quarantine.create_rejected(target, entity, stage, columns)
    checked = sqlfiles.render(
        "load/merge_stage.sql",
        checks=quarantine.column_checks(target, described),
        rejected=rejected,
        owners=quarantine.owners(target, entity, columns),
        **shape,
    )
    inserted, updated, _rejected = target.execute(checked, {"synced_at": synced_at}).fetchone()
    return Merged(inserted, updated, rejected)


def _start_log(target: psycopg.Connection, request: LoadRequest, result: LoadResult, started_at: datetime) -> int:
    """Writes the load's run-log row as running, on its own (committed at once), with its session's pid: if the process
    dies before the load ends, the row stays, and the next load of the entity marks it failed (first doing so for
    earlier ones)."""
    target.execute(sqlfiles.read("sync/update_abandoned_run_logs.sql"), {"entity": request.entity.name})
    return _record(target, request, result, started_at, status="running")


def _record(
    target: psycopg.Connection,
    request: LoadRequest,
    result: LoadResult,
    started_at: datetime,
    *,
    status: str,
    error: str | None = None,
    log_id: int | None = None,
) -> int | None:
    """Writes the load's run-log row (completes the one `log_id` names, else inserts one); its id."""
    if log_id is not None:
        target.execute(
            sqlfiles.read("sync/update_run_log.sql"),
            {
                "run_log_id": log_id,
                "low_rowver": result.low_rowver,
                "high_rowver": result.high_rowver,
                "data_as_of": result.data_as_of,
                "rows_read": result.rows_read,
                "rows_inserted": result.rows_inserted,
                "rows_updated": result.rows_updated,
                "rows_deleted": result.rows_deleted,
                "status": status,
                "error": error,
            },
        )
        return log_id
    return target.execute(
        sqlfiles.read("sync/insert_run_log.sql"),
        {
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
        },
    ).fetchone()[0]


def _record_failure(
    target: psycopg.Connection,
    request: LoadRequest,
    result: LoadResult,
    started_at: datetime,
    error: BaseException,
    log_id: int | None = None,
) -> None:
    """Records a failed load in its own transaction; the load's own writes were rolled back."""
    message = f"{type(error).__name__}: {error}"[:4000]
    log.error("Load of %s failed after %.2fs, nothing written: %s", result.entity, result.seconds, message)
    try:
        if target.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            target.rollback()
        with target.transaction():
            _record(target, request, result, started_at, status="failed", error=message, log_id=log_id)
    except psycopg.Error as log_error:  # the portal itself may be what failed
        log.warning("Could not record the failure in aspire_sync.run_log: %s", log_error)


def _end_source_transaction(source: Any) -> None:
    """Ends the read transaction on ASPIRE, so no snapshot or lock outlives the load."""
    try:
        source.rollback()
    except Exception as error:  # noqa: BLE001 - a broken source connection is closed by its owner
        log.debug("Ending the ASPIRE read transaction failed: %s", error)
