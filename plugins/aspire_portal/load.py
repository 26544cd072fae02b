"""One entity, loaded from ASPIRE into the portal in one portal transaction.

The road, in order: log (the run-log row, committed as running) -> turn (among the loads of the entity) -> window
(watermark and read bound) -> plan (scope -> what to read, delete and hold) -> stage (ASPIRE's rows into a temp
table) -> merge (newest row version wins) -> delete (below the read bound) -> confirm (the drift check of a daily
refresh) -> record (held scope, watermark and run log, committed together). A failure rolls all of it back and
records the error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from aspire_portal import advice, clock, columns, quarantine, reconcile, runlog, scope, staging, turns, vanished
from aspire_portal.deleting import delete, guard_rows
from aspire_portal.merging import merge
from aspire_portal.model import (
    DEFAULT_OPTIONS,
    AspireWentBack,
    Dialect,
    LoadOptions,
    LoadRequest,
    LoadResult,
    LockTimeout,
)
from aspire_portal.planning import Held, Plan, Scope, extract_passes, plan_changes, plan_customers, plan_everyone

log = logging.getLogger(__name__)


class _DropsNeedTheEntity(Exception):
    """The load's plan lets go of accounts or contracts the entity holds: it re-runs with the entity to itself."""


def load_entity(
    source: Any,
    target: psycopg.Connection,
    request: LoadRequest,
    *,
    dialect: Dialect,
    scope: Scope | None = None,
    options: LoadOptions = DEFAULT_OPTIONS,
) -> LoadResult:
    """Loads one entity (see the module docstring). `scope`: the run's resolved scope (else the one the run
    persisted, else resolved now). A load shares its entity with the other loads of it, except a full load over
    everyone and a load whose plan lets go of accounts or contracts the entity holds: that one restarts with the
    entity to itself (docs/adr/0004-row-locks.md)."""
    load = _Load(source, target, request, dialect, scope, options)
    try:
        turns.ensure_lock_row(target, request.entity.name)
        load.log_id = runlog.start(target, request, load.result, load.started_at)
        exclusive = request.over_everyone
        while True:
            try:
                with target.transaction():
                    load.run(exclusive=exclusive)
                break
            except _DropsNeedTheEntity:
                log.info("%s: the plan lets go of what the entity holds; taking it to itself", request.entity.name)
                exclusive = True
    except psycopg.errors.LockNotAvailable as error:
        load.fail(LockTimeout(load.lock_timeout_message(error)), cause=error)
    except Exception as error:
        load.fail(error)
    finally:
        _end_source_transaction(source)
    log.info("Loaded %s", load.result.summary())
    if load.drift and not load.drift[1].is_zero:
        raise reconcile.Drifted(*load.drift)
    return load.result


@dataclass
class _Load:
    """One load's state along the road; each method is one step of it."""

    source: Any
    target: psycopg.Connection
    request: LoadRequest
    dialect: Dialect
    given_scope: Scope | None
    options: LoadOptions
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    clock: float = field(default_factory=time.perf_counter)
    log_id: int | None = None
    result: LoadResult = None  # type: ignore[assignment]
    drift: tuple[reconcile.Drift, reconcile.Drift] | None = None
    held: Held = field(default_factory=Held)  # what the entity held when the plan was made

    def __post_init__(self) -> None:
        self.result = LoadResult(entity=self.request.entity.name, load_kind=self.request.kind)

    def run(self, *, exclusive: bool) -> None:
        """The load's transaction, from its turn to the record."""
        request, target = self.request, self.target
        self.result, self.drift = LoadResult(entity=request.entity.name, load_kind=request.kind), None
        turns.take_turn(target, request, self.options.timeouts, exclusive=exclusive)
        self.window()
        resolved, plan = self.plan()
        if plan.lets_go and not exclusive:
            raise _DropsNeedTheEntity
        extraction = self.extraction(plan)
        if self.result.copied_directly:
            if vanished.tracks_changes(extraction):
                vanished.start_change_tracking(extraction)
            with self.timed("seconds_extract"):
                self.result.copied_directly = extraction.straight_into_target()
        if self.result.copied_directly:
            self.result.rows_inserted = self.result.rows_read
            self.options.at("merged")
        elif extraction.passes or plan.has_exits or request.kind != "scope":
            plan = self.stage_merge_delete(extraction, resolved, plan)
        else:  # a scope-change load with no entry and no exit: nothing to read, merge or delete
            self.options.at("merged")
        self.record(plan, resolved)

    def window(self) -> None:
        """The row versions this load reads: from the watermark (an incremental) below ASPIRE's read bound."""
        if self.request.kind == "incremental":
            self.result.watermark = runlog.watermark(self.target, self.request.entity)
        self.result.read_bound = clock.read_bound(self.source, self.target, self.dialect)
        if self.result.watermark is not None and self.result.read_bound < self.result.watermark:
            raise AspireWentBack(
                f"ASPIRE's read bound {self.result.read_bound} is below the watermark {self.result.watermark} of "
                f"{self.request.entity.name}: ASPIRE went back in time (a restore or a failover); nothing was "
                f"written. {advice.REBASELINE}"
            )
        self.result.data_as_of = clock.data_as_of(self.target, self.result.read_bound)

    def plan(self) -> tuple[Scope, Plan]:
        """The scope this load works in, and what it reads, deletes and records of it."""
        source, target, request, entity, run = (
            self.source,
            self.target,
            self.request,
            self.request.entity,
            self.request.run,
        )
        guard = self.options.guard
        if request.over_everyone:
            resolved = scope.resolve(source, target, self.dialect, persist=False, dag_id=run.dag_id, guard=guard)
            # what the entity holds is read whatever its marker says: this load also sets the held state right
            self.held = scope.held(target, entity, resolved, use_marker=False)
            plan = plan_everyone(entity, resolved, self.held)
        else:
            resolved = self.given_scope or scope.for_run(target, run.dag_id, run.run_id)
            customers = None if request.accounts is None else frozenset(request.accounts)
            if resolved is None or resolved.customers != customers:
                resolved = scope.resolve(
                    source,
                    target,
                    self.dialect,
                    customers=request.accounts,
                    dag_id=run.dag_id,
                    run_id=run.run_id,
                    guard=guard,
                )
            self.held = state = scope.held(target, entity, resolved)
            if request.kind == "full":
                plan = plan_customers(entity, resolved, state, scope.contracts_before(target, resolved))
            else:
                plan = plan_changes(entity, resolved, state)
        self.result.new_accounts, self.result.new_contracts = len(plan.new_accounts), len(plan.new_contracts)
        self.result.exited_accounts, self.result.exited_contracts = len(plan.gone_accounts), len(plan.gone_contracts)
        if resolved.read_bound < self.result.read_bound:
            # the rows are read below this load's bound, but for the customers and contracts of a scope read below
            # an earlier one: a contract booked, or a role taken or given up, in between is the next run's, so the
            # portal holds ASPIRE as of the earlier bound
            self.result.data_as_of = clock.data_as_of(self.target, resolved.read_bound)
        return resolved, plan

    def extraction(self, plan: Plan) -> staging.Extraction:
        """What the load reads, and whether it may COPY straight into an empty target (a first load)."""
        entity = self.request.entity
        described = columns.described(self.target, entity)
        retry = quarantine.retry_keys(self.target, entity)
        extraction = staging.Extraction(
            self.source, self.target, self.request, self.result, self.dialect, described, self.options, retry=retry
        )
        extraction.passes = extract_passes(entity, self.request, plan, self.result.watermark, retry)
        single = len(extraction.passes) == 1 and not self.request.reconcile
        self.result.copied_directly = single and staging.first_load_of_empty_table(self.target, entity)
        return extraction

    def stage_merge_delete(self, extraction: staging.Extraction, resolved: Scope, plan: Plan) -> Plan:
        """Stage -> merge -> delete -> confirm; the plan as the deletes leave it (what they had to keep stays held)."""
        target, request, entity, result = self.target, self.request, self.request.entity, self.result
        with self.timed("seconds_extract"):
            stage = staging.create_stage(target, entity, extraction.described)
            diverted = extraction.into_stage(stage)
            staging.fit_lengths(target, stage, extraction.described)
            staging.analyze(target, stage)
        before = None
        if request.reconcile:
            with self.timed("seconds_reconcile"):
                before = reconcile.compare(
                    target,
                    entity,
                    stage,
                    extraction.columns,
                    phase="before",
                    read_bound=result.read_bound,
                    pending_from=reconcile.pending_from(target, entity, result.read_bound),
                    scope_changes=reconcile.scope_changes(plan),
                    unwritten=True,
                )
        with self.timed("seconds_merge"):
            rejected = quarantine.create_rejected(target, entity, stage, extraction.columns) if diverted else None
            if diverted:
                quarantine.divert(target, entity, rejected, extraction.columns, diverted)
            merged = merge(
                target,
                entity,
                stage,
                extraction.described,
                self.started_at,
                dedupe=len(extraction.passes) > 1,
                repair=request.reconcile,
                rebaseline=request.rebaseline,
                rejected=rejected,
            )
            result.rows_inserted, result.rows_updated = merged.inserted, merged.updated
            if merged.rejected:
                result.quarantined = quarantine.keep(
                    target, entity, stage, merged.rejected, extraction.columns, request.run.run_id
                )
            retried = extraction.retry if any(kind == "retry" for kind, _a, _c in extraction.passes) else []
            if extraction.retry or merged.rejected:
                quarantine.release(
                    target, entity, stage, merged.rejected, list(retried), everyone=request.over_everyone
                )
            self.options.at("merged")
        with self.timed("seconds_delete"):
            deleted = delete(extraction, stage, plan, resolved)
            result.rows_deleted = deleted.rows
            guard_rows(
                target,
                entity.target_table,
                result,
                self.options.guard,
                request.run.dag_id,
                rebaseline=request.rebaseline,
            )
            plan = plan.keeping(deleted.kept_accounts, deleted.kept_contracts)
            self.options.at("deleted")
        if before is not None:
            with self.timed("seconds_reconcile"):
                after = reconcile.confirm(target, entity, stage, extraction.columns, before, request.run)
                self.drift = before, after
        return plan

    def record(self, plan: Plan, resolved: Scope) -> None:
        """The held scope, the watermark and the run log, in the load's transaction."""
        scope.record_held(self.target, self.request.entity, plan, self.held, resolved)
        if self.request.kind == "incremental" or (self.request.rebaseline and self.request.entity.cadence == "15min"):
            runlog.move_watermark(self.target, self.request, self.result)
        if self.request.rebaseline:  # Change Tracking's versions belong to the timeline that was lost
            vanished.forget_change_tracking(self.target, self.request.entity.name)
        self.options.at("before_commit")
        self.result.seconds = time.perf_counter() - self.clock
        runlog.record(self.target, self.request, self.result, self.started_at, status="success", log_id=self.log_id)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Adds the time the block takes to the result's `phase` (a seconds_* field)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            setattr(self.result, phase, (getattr(self.result, phase) or 0.0) + time.perf_counter() - started)

    def lock_timeout_message(self, error: psycopg.Error) -> str:
        timeouts = self.options.timeouts
        return (
            f"the load of {self.request.entity.name} waited longer than its lock timeout (coordination "
            f"{timeouts.coordination}, other locks {timeouts.other}) for a lock another session holds"
            f"{turns.where(error)}; nothing was written and the task retries. {advice.LOCK_WAIT}"
        )

    def fail(self, error: BaseException, cause: BaseException | None = None) -> None:
        """Records the failure (the load's writes were rolled back) and raises it."""
        self.result.seconds = time.perf_counter() - self.clock
        runlog.record_failure(self.target, self.request, self.result, self.started_at, error, self.log_id)
        if cause is not None:
            raise error from cause
        raise error


def _end_source_transaction(source: Any) -> None:
    """Ends the read transaction on ASPIRE, so no snapshot or lock outlives the load."""
    try:
        source.rollback()
    except Exception as error:  # noqa: BLE001 - a broken source connection is closed by its owner
        log.debug("Ending the ASPIRE read transaction failed: %s", error)
