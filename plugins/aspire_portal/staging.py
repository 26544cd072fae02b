"""Staging: a load's extract passes, streamed from ASPIRE into its temp staging table (or, for a first load, straight
into the empty target), and the extract statements they run.

The stage is wider than its target (no NOT NULL, no length or precision limit), so every row ASPIRE hands over
stages and the merge checks the limits in SQL (see aspire_portal.quarantine). When COPY fails on a value no
PostgreSQL column can hold, the passes run again with every row screened, and those rows are held back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from aspire_portal import columns as portal_columns
from aspire_portal import sqlfiles
from aspire_portal.catalogue import Entity
from aspire_portal.columns import ROW_ERRORS, Column
from aspire_portal.copystream import COPY_ERRORS, Diverted, Into, stream_rows
from aspire_portal.model import DEFAULT_OPTIONS, Dialect, LoadKind, LoadOptions, LoadRequest, LoadResult
from aspire_portal.planning import Pass, Plan, Scope

log = logging.getLogger(__name__)


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


def window(request: LoadRequest, result: LoadResult) -> dict[str, Any]:
    """The parameters of the load's change window (row versions, or LastModifiedAt for a backfill)."""
    return {
        "watermark": result.watermark,
        "read_bound": result.read_bound,
        "modified_from": request.modified_from,
        "modified_to": request.modified_to,
    }


def stage_name(target: psycopg.Connection, entity: Entity) -> str:
    return sql.Identifier(f"stage_{entity.name}").as_string(target)


def create_stage_statement(target: psycopg.Connection, entity: Entity, described: list[Column]) -> str:
    """The statement that creates the load's temp staging table, its columns wider than the target's."""
    shaped = [(sql.Identifier(c.name).as_string(target), c.staged) for c in described]
    return sqlfiles.render("load/create_stage.sql", stage=stage_name(target, entity), columns=shaped)


def create_stage(target: psycopg.Connection, entity: Entity, described: list[Column]) -> str:
    """Creates the load's temp staging table; its name."""
    target.execute(create_stage_statement(target, entity, described))
    return stage_name(target, entity)


def analyze(target: psycopg.Connection, table: str) -> None:
    """Statistics for a freshly filled temp table, so the merge and deletes plan on what it holds."""
    target.execute(sqlfiles.render("load/analyze_stage.sql", stage=table))


def fit_lengths(target: psycopg.Connection, stage: str, described: list[Column]) -> int:
    """Cuts the stage's texts that are longer than their varchar(n) column only by trailing spaces to what the
    portal stores of them (see fit_stage_lengths.sql); how many rows it changed."""
    limited = [
        (sql.Identifier(c.name).as_string(target), c.max_length)
        for c in described
        if c.type_name == "varchar" and c.max_length is not None
    ]
    if not limited:
        return 0
    return target.execute(sqlfiles.render("load/fit_stage_lengths.sql", stage=stage, columns=limited)).rowcount


@dataclass
class Extraction:
    """One load's extract: what it reads (passes), from where, into which columns; `result` counts the rows."""

    source: Any
    target: psycopg.Connection
    request: LoadRequest
    result: LoadResult
    dialect: Dialect
    described: list[Column]
    options: LoadOptions
    passes: list[Pass] = field(default_factory=list)
    retry: Sequence[int] = ()

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.described]

    def into(self, table: str) -> Into:
        return Into(table, self.columns, [sql.Identifier(c).as_string(self.target) for c in self.columns])

    def run(self, table: str, diverted: list[Diverted] | None = None) -> None:
        """Streams every pass into `table` (the stage, or a first load's empty target)."""
        for kind, accounts, contracts in self.passes:
            retry = self.retry if kind == "retry" else None
            short_lists, parameters = parameters_of(self.request, self.result, accounts, contracts, retry)
            self.result.rows_read += stream_rows(
                self.source,
                self.target,
                render_extract(self.request.entity, kind, self.dialect, short_lists=short_lists),
                parameters,
                self.into(table),
                batch_size=self.options.batch_size,
                row_format=self.options.row_format,
                binary_copy=self.options.binary_copy,
                diverted=diverted,
            )

    def into_stage(self, stage: str) -> list[Diverted]:
        """The passes into the stage; when COPY fails on a value no column can hold, again with every row screened:
        the rows held back are returned, every other row is staged."""
        try:
            with self.target.transaction():  # a savepoint: the failed COPY is undone, the stage stays
                self.run(stage)
            return []
        except COPY_ERRORS as error:
            log.warning(
                "COPY into %s failed on a value (%s); extracting again with every row screened",
                stage,
                str(error).splitlines()[0],
            )
        self.result.rows_read = 0  # counted again
        diverted: list[Diverted] = []
        self.run(stage, diverted)
        return diverted

    def straight_into_target(self) -> bool:
        """A first load's single pass COPYed straight into its empty target; False (nothing kept, a stage to be used
        instead) when a row cannot go in as it is."""
        entity = self.request.entity
        try:
            with self.target.transaction():  # a savepoint: a row the table cannot take sends the load through a stage
                self.run(entity.target_table)
            return True
        except ROW_ERRORS + COPY_ERRORS as error:
            log.warning(
                "A row of %s cannot go into the portal as it is (%s); staging the first load instead, so "
                "every other row loads",
                entity.name,
                str(error).splitlines()[0],
            )
            self.result.rows_read = 0
            return False


def parameters_of(
    request: LoadRequest,
    result: LoadResult,
    accounts: Sequence[int],
    contracts: Sequence[int],
    retry: Sequence[int] | None = None,
) -> tuple[dict[str, int], dict[str, Any]]:
    """The extract's parameters, and which id lists are short enough to bind id by id; `retry`: the keys a retry
    pass reads again."""
    lists: dict[str, Sequence[int]] = {"accounts": accounts, "scoped_contracts": contracts}
    if retry is not None:
        lists["retry_keys"] = retry
    short_lists, parameters = sqlfiles.id_lists(**lists)
    return short_lists, {**window(request, result), **parameters}


def first_load_of_empty_table(target: psycopg.Connection, entity: Entity) -> bool:
    """Whether the target is empty, and then locked against other writers for this transaction: a first load
    COPYs straight into it, since with no rows there is nothing to merge, compare or delete."""
    statement = sqlfiles.render("load/select_target_is_empty.sql", target=entity.target_table)
    if not target.execute(statement).fetchone()[0]:
        return False
    target.execute(sqlfiles.render("load/lock_target_for_first_load.sql", target=entity.target_table))
    return target.execute(statement).fetchone()[0]  # a writer that committed before the lock was granted


def stage_scope(
    source: Any,
    target: psycopg.Connection,
    entity: Entity,
    dialect: Dialect,
    resolved: Scope,
    plan: Plan,
    options: LoadOptions = DEFAULT_OPTIONS,
) -> tuple[str, list[str]]:
    """Extracts the entity's rows in `resolved` (every enrolled customer's scope; `plan`: its plan_everyone) into its
    temp staging table, in the caller's transaction, writing nothing else; the stage and its columns (reconciliation
    on demand reads this)."""
    described = portal_columns.described(target, entity)
    request = LoadRequest(entity=entity, kind="full")
    result = LoadResult(entity=entity.name, load_kind="full", read_bound=resolved.read_bound)
    extraction = Extraction(source, target, request, result, dialect, described, options)
    extraction.passes = [("full", plan.accounts, plan.contracts)]
    stage = create_stage(target, entity, described)
    extraction.run(stage)
    analyze(target, stage)
    return stage, extraction.columns
