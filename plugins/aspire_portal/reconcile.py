"""Drift between ASPIRE and the portal, measured: what the 15-minute path missed, in rows, keys and money.

The daily refresh compares, per entity, the rows it staged (ASPIRE's in-scope data, read once) with the portal table
**before** its merge, then again **after** its merge and deletes, in the same transaction. Before: the drift the
15-minute path left (rows at or above the entity's watermark are pending the next 15-minute run, not drift; for the
daily entities, what changed in ASPIRE since the last refresh). After: must be zero, else the refresh is rolled back
and its task fails (:class:`Drifted`). Both are stored in ``aspire_sync.reconciliation`` and logged as a table.
:func:`measure_now` runs the same comparison on demand (``python -m aspire_portal reconcile``), writing nothing but
its measurements.

Measures: ``rows`` (counts), ``missing_keys`` (ASPIRE has, the portal lacks), ``extra_keys`` (the portal has, ASPIRE's
scope lacks), ``changed_rows`` (same key, other values) and ``sum:<column>`` per money column of the catalogue;
``difference`` is portal - aspire (for ``changed_rows``, the number of rows). Per customer (the entity's ``per``
column: an account, or a contract) where they differ. Each comparison first sums both sides per customer without
joining them (sum_sides.sql: rows, a hash of each whole row, money); only the customers whose sums differ are joined
(ADR 0013).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from aspire_portal import runlog, sqlfiles
from aspire_portal.catalogue import Entity
from aspire_portal.planning import Plan

log = logging.getLogger(__name__)

OWNERS_KEPT = 100  # per entity and phase: the customers with the largest differences are stored and logged
Number = int | Decimal


@dataclass(frozen=True)
class Measurement:
    measure: str
    aspire: Number | None
    portal: Number | None
    difference: Number
    account_oid: int | None = None
    contract_oid: int | None = None


@dataclass
class Drift:
    """One comparison of one entity: its totals (every measure, zero or not) and the customers that differ."""

    entity: Entity
    phase: str
    read_bound: int | None
    pending_from: int | None
    totals: list[Measurement]
    owners: list[Measurement] = field(default_factory=list)
    owners_differing: int = 0
    scope_changes: int = 0  # accounts and contracts whose scope changed since the entity's last load (left out)
    summed: bool = False  # found the same by summing each side (sum_sides.sql), without joining them
    # before a merge: the comparison after it, as it comes out if nothing is written to the stage or the table
    # (taken from the same scans); None when not asked for, or when some customer would differ (then it is run)
    unwritten_after: Drift | None = None
    rows_written: int | None = None  # by this transaction into the stage and the table, when unwritten_after was summed

    @property
    def is_zero(self) -> bool:
        return all(m.difference == 0 for m in self.totals)

    @property
    def differing(self) -> list[Measurement]:
        return [m for m in self.totals if m.difference != 0]

    def table(self) -> str:
        """The comparison as a text table, for the task log and the CLI."""
        title = {"before": "before the refresh", "after": "after the refresh", "on_demand": "now"}[self.phase]
        pending = (
            f"; rows at or above row version {self.pending_from} are pending, left out" if self.pending_from else ""
        )
        if self.scope_changes:
            pending += f"; so are the rows of {self.scope_changes} account(s)/contract(s) whose scope just changed"
        verdict = "no drift" if self.is_zero else f"{len(self.differing)} measure(s) differ"
        if self.summed:
            verdict += " (the same rows on both sides, summed per customer)"
        lines = [
            f"Drift of {self.entity.name} {title} (ASPIRE read bound {self.read_bound}{pending}): {verdict}",
            f"  {'measure':<28}{'aspire':>18}{'portal':>18}{'difference':>16}",
        ]
        lines += [
            f"  {m.measure:<28}{_fmt(m.aspire):>18}{_fmt(m.portal):>18}{_fmt(m.difference):>16}" for m in self.totals
        ]
        if self.owners:
            lines.append(
                f"  per customer: {self.owners_differing} differ"
                + (f" (the {OWNERS_KEPT} largest shown)" if self.owners_differing > OWNERS_KEPT else "")
            )
            lines += [
                f"    {_owner(m):<24}{m.measure:<28}{_fmt(m.aspire):>18}{_fmt(m.portal):>18}{_fmt(m.difference):>16}"
                for m in self.owners
            ]
        return "\n".join(lines)


class Drifted(RuntimeError):
    """After its merge and deletes, a refresh's portal table still differs from what it read from ASPIRE. The refresh
    was committed (its repairs and deletes stand: rolling them back would keep, say, rows that left the scope); the
    task fails so a person looks."""

    def __init__(self, before: Drift, after: Drift) -> None:
        self.drifts = (before, after)
        super().__init__(
            f"after the refresh of {after.entity.name}, the portal still differs from ASPIRE's in-scope data: "
            + ", ".join(f"{m.measure} {_fmt(m.difference)}" for m in after.differing)
            + "; the refresh itself was committed. Something else writes this table. Measurements: "
            "aspire_sync.reconciliation (phase 'after'); see the runbook, 'The daily refresh failed on drift after "
            "the refresh'."
        )


def compare(
    target: psycopg.Connection,
    entity: Entity,
    stage: str,
    columns: Sequence[str],
    *,
    phase: str,
    read_bound: int | None,
    pending_from: int | None,
    newer_from: int | None = None,
    scope_changes: tuple[Sequence[int], Sequence[int]] = ((), ()),
    unwritten: bool = False,
) -> Drift:
    """Compares the staged rows with the portal table (see the module docstring and compare_stage.sql). `columns`:
    the staged columns; `scope_changes`: the accounts and contracts whose scope changed since the entity's last load
    (their rows are pending, left out). `unwritten` (before a merge): also the comparison :func:`confirm` makes after
    it, as it comes out when nothing is written into the stage or the table, from the same two scans
    (``Drift.unwritten_after``), and how many rows this transaction has written into them so far.

    Each side is summed per owner first (sum_sides.sql): the owners whose sums are equal hold the same rows, and only
    the pairs of rows with an owner whose sums differ are joined (all of them when more than MOST_OWNERS_JOINED
    differ, or for an entity without owners)."""
    left_out = {"pending_from": pending_from, "newer_from": newer_from, "scope_changes": scope_changes}
    drift = Drift(
        entity=entity,
        phase=phase,
        read_bound=read_bound,
        pending_from=pending_from,
        totals=[],
        scope_changes=len(scope_changes[0]) + len(scope_changes[1]),
    )
    sums_read = summed(target, entity, stage, columns, **left_out, unwritten=unwritten, unwritten_from=read_bound)
    differing, owners, null_owner, rows_alike, *money_alike = sums_read[: 4 + len(entity.money)]
    if unwritten:
        drift.unwritten_after = _unwritten_after(entity, read_bound, sums_read[4 + len(entity.money) :])
    if drift.unwritten_after is not None:  # (what confirm() compares with, to take it)
        drift.rows_written = rows_written(target, (entity.target_table, stage))
    alike = [rows_alike, rows_alike, 0, 0, 0, 0, 0, *(m for m in money_alike for _side in (0, 1))]
    restricted = bool(differing) and owners is not None and entity.per is not None
    if not differing:
        drift.summed = True
        groups: list[tuple] = []
    elif restricted:
        groups = grouped(target, entity, stage, columns, owners=(owners, null_owner), **left_out)
    else:
        groups, alike = grouped(target, entity, stage, columns, **left_out), [0] * len(alike)
    sums = [sum(values) for values in zip(alike, *(g[1:] for g in groups), strict=True)]
    aspire_rows, portal_rows, missing, extra, changed, moved_out, _moved_in, *money = sums
    drift.totals = _measurements(entity, aspire_rows, portal_rows, missing, extra, changed + moved_out, money)
    if restricted:
        groups = _with_alike_rows(target, entity, stage, columns, groups, (set(owners), null_owner), left_out)
    owners_measured: list[tuple[Number, Measurement]] = []
    for owner, aspire_rows, portal_rows, missing, extra, changed, moved_out, moved_in, *money in groups:
        if owner is None:  # shared reference data, or rows without an owner: in the totals only
            continue
        differing_measures = [
            m
            for m in _measurements(
                entity, aspire_rows, portal_rows, missing + moved_out, extra + moved_in, changed, money, owner
            )
            if m.difference != 0
        ]
        weight = sum(abs(m.difference) for m in differing_measures)
        owners_measured += [(weight, m) for m in differing_measures]
    ranked = sorted({_owner(m): w for w, m in owners_measured}.items(), key=lambda item: -item[1])
    kept = {name for name, _w in ranked[:OWNERS_KEPT]}
    drift.owners = [m for _w, m in owners_measured if _owner(m) in kept]
    drift.owners_differing = len(ranked)
    return drift


MOST_OWNERS_JOINED = 3_000
"""Above this many owners whose sums differ, the comparison joins every row rather than theirs. Measured at large
(invoice_detail, 27,765 contracts): 849 differing, 2.9 s against 4.9 s; 3,064, 4.3 s against 5.1 s; 6,699, 6.9 s
against 5.1 s."""


def summed(
    target: psycopg.Connection,
    entity: Entity,
    stage: str,
    columns: Sequence[str],
    *,
    pending_from: int | None,
    newer_from: int | None = None,
    scope_changes: tuple[Sequence[int], Sequence[int]] = ((), ()),
    unwritten: bool = False,
    unwritten_from: int | None = None,
) -> tuple:
    """sum_sides.sql: how many owners' sums differ, those owners (None when more than MOST_OWNERS_JOINED) and whether
    the rows without an owner differ, and the rows and money sums of the owners whose sums are equal (the same on
    both sides). With `unwritten`, then how many owners would differ in the comparison after the merge if nothing is
    written (every staged row against the portal's below `unwritten_from`, when not None), and that comparison's rows
    and money."""
    statement, parameters = _statement(
        "reconcile/sum_sides.sql",
        target,
        entity,
        stage,
        columns,
        pending_from,
        newer_from,
        scope_changes,
        unwritten=unwritten,
        unwritten_newer=unwritten and unwritten_from is not None,
    )
    if unwritten and unwritten_from is not None:
        parameters["unwritten_from"] = unwritten_from
    return target.execute(statement, parameters | {"most_owners": MOST_OWNERS_JOINED}).fetchone()


def rows_written(target: psycopg.Connection, tables: Sequence[str]) -> int | None:
    """Rows the current transaction has inserted, updated or deleted in `tables` so far, by whatever statement or
    trigger (None when the server does not count them)."""
    return target.execute(sqlfiles.render("reconcile/rows_written.sql"), {"tables": list(tables)}).fetchone()[0]


def _unwritten_after(entity: Entity, read_bound: int | None, sums: Sequence[Any]) -> Drift | None:
    """The comparison after the merge, when it sums the same on both sides with nothing written (what compare()
    makes of sums equal for every owner); None when some owner's sums differ."""
    owners_differing, rows, *money = sums
    if owners_differing:
        return None
    return Drift(
        entity=entity,
        phase="after",
        read_bound=read_bound,
        pending_from=None,
        totals=_measurements(entity, rows, rows, 0, 0, 0, [m for m in money for _side in (0, 1)]),
        summed=True,
    )


def grouped(
    target: psycopg.Connection,
    entity: Entity,
    stage: str,
    columns: Sequence[str],
    *,
    pending_from: int | None,
    newer_from: int | None = None,
    scope_changes: tuple[Sequence[int], Sequence[int]] = ((), ()),
    owners: tuple[Sequence[int], bool] | None = None,
) -> list[tuple]:
    """compare_stage.sql's rows: per owner (None: rows without one), aspire_rows, portal_rows, missing_keys,
    extra_keys, changed_rows, moved_out, moved_in, then each money column's ASPIRE and portal sums. With `owners`
    (owner ids, and whether the rows without an owner), of the pairs of rows with one of theirs on either side only."""
    statement, parameters = _statement(
        "reconcile/compare_stage.sql",
        target,
        entity,
        stage,
        columns,
        pending_from,
        newer_from,
        scope_changes,
        owners=owners is not None,
    )
    if owners is not None:
        parameters["owners"], parameters["null_owner"] = list(owners[0]), owners[1]
    return target.execute(statement, parameters).fetchall()


def _with_alike_rows(
    target: psycopg.Connection,
    entity: Entity,
    stage: str,
    columns: Sequence[str],
    groups: list[tuple],
    differing: tuple[set[int], bool],
    left_out: dict[str, Any],
) -> list[tuple]:
    """The joined groups with, for an owner whose sums were equal but who has a joined pair (a row of theirs the
    sums left out, paired with a row of an owner that differs), the rows and money the sums counted for them: what
    the join of every row would have counted."""
    outside = [g[0] for g in groups if (g[0] not in differing[0] if g[0] is not None else not differing[1])]
    if not outside:
        return groups
    statement, parameters = _statement(
        "reconcile/sum_sides.sql", target, entity, stage, columns, **left_out, of_owners=True
    )
    parameters["of_owners"] = [o for o in outside if o is not None]
    parameters["of_null_owner"] = None in outside
    counted = {row[0]: row[1:] for row in target.execute(statement, parameters)}
    out = []
    for owner, aspire_rows, portal_rows, *rest in groups:
        more = counted.get(owner)
        if more is not None:
            aspire_rows, portal_rows = aspire_rows + more[0], portal_rows + more[1]
            money = [value + more[2 + i] for i, value in enumerate(rest[5:])]
            rest = [*rest[:5], *money]
        out.append((owner, aspire_rows, portal_rows, *rest))
    return out


def _statement(
    path: str,
    target: psycopg.Connection,
    entity: Entity,
    stage: str,
    columns: Sequence[str],
    pending_from: int | None,
    newer_from: int | None,
    scope_changes: tuple[Sequence[int], Sequence[int]],
    **flags: bool,
) -> tuple[str, dict[str, Any]]:
    """A comparison's statement and its parameters."""
    quote = lambda name: sql.Identifier(name).as_string(target)  # noqa: E731
    scope_columns = [
        c
        for c, follows in (("account_oid", entity.follows_accounts), ("contract_oid", entity.follows_contracts))
        if follows and c in columns
    ]
    statement = sqlfiles.render(
        path,
        stage=stage,
        target=entity.target_table,
        key=[quote(k) for k in entity.key],
        columns=[quote(c) for c in columns],
        money=[quote(m) for m in entity.money],
        per=quote(entity.per) if entity.per else None,
        scope_columns=scope_columns,
        pending=pending_from is not None,
        newer=newer_from is not None,
        **{"owners": False, "of_owners": False, "unwritten": False, "unwritten_newer": False} | flags,
    )
    parameters: dict[str, Any] = {"pending_from": pending_from, "newer_from": newer_from}
    if "account_oid" in scope_columns:  # (psycopg sends every parameter given: only those the statement uses)
        parameters["scope_accounts"] = list(scope_changes[0])
    if "contract_oid" in scope_columns:
        parameters["scope_contracts"] = list(scope_changes[1])
    return statement, parameters


def _measurements(
    entity: Entity,
    aspire_rows: Number,
    portal_rows: Number,
    missing: Number,
    extra: Number,
    changed: Number,
    money: Sequence[Number],
    owner: int | None = None,
) -> list[Measurement]:
    whose = {"contract_oid": owner} if entity.per == "contract_oid" else {"account_oid": owner}
    out = [
        Measurement("rows", aspire_rows, portal_rows, portal_rows - aspire_rows, **whose),
        Measurement("missing_keys", missing, 0, -missing, **whose),
        Measurement("extra_keys", 0, extra, extra, **whose),
        Measurement("changed_rows", None, None, changed, **whose),
    ]
    for i, column in enumerate(entity.money):
        aspire, portal = money[2 * i], money[2 * i + 1]
        out.append(Measurement(f"sum:{column}", aspire, portal, portal - aspire, **whose))
    return out


def pending_from(target: psycopg.Connection, entity: Entity, read_bound: int) -> int:
    """Where pending changes start: a 15-minute entity's watermark (changes above it wait for its next run, they are
    not drift); for a daily entity, the read bound (every change before it is the refresh's to apply)."""
    if entity.cadence == "15min":
        mark = runlog.watermark(target, entity, default=None)
        if mark is not None:
            return min(mark, read_bound)
    return read_bound


def scope_changes(plan: Plan) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The accounts and contracts a full load's plan takes in or drops: their rows wait for the 15-minute path."""
    return plan.add_accounts + plan.drop_accounts, plan.add_contracts + plan.drop_contracts


def confirm(
    target: psycopg.Connection,
    entity: Entity,
    stage: str,
    columns: Sequence[str],
    before: Drift,
    run: Any,
) -> Drift:
    """After a refresh's merge and deletes: the same comparison, which must be zero (portal rows newer than the read
    are left out: the delete keeps them by design). Stores both in the caller's (the refresh's) transaction and logs
    them; the caller raises Drifted, after its commit, when the portal still differs.

    When this transaction has written no row into the stage or the table since the comparison before (the server's
    own count of its inserts, updates and deletes, triggers' included), both hold what that comparison read: the one
    after is what its scans already summed for it (``before.unwritten_after``), and is not run again (ADR 0014)."""
    after = before.unwritten_after
    if after is not None and (
        before.rows_written is None or rows_written(target, (entity.target_table, stage)) != before.rows_written
    ):
        after = None
    if after is None:
        after = compare(
            target,
            entity,
            stage,
            columns,
            phase="after",
            read_bound=before.read_bound,
            pending_from=None,
            newer_from=before.read_bound,
        )
    log.info("%s", before.table())
    (log.info if after.is_zero else log.error)("%s", after.table())
    save(target, (before, after), run)
    return after


def save(target: psycopg.Connection, drifts: Iterable[Drift], run: Any) -> int:
    """Stores the measurements (every total, and the customers that differ); how many rows it wrote."""
    rows = [
        {
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "task_id": run.task_id,
            "phase": drift.phase,
            "entity": drift.entity.name,
            "measure": m.measure,
            "account_oid": m.account_oid,
            "contract_oid": m.contract_oid,
            "aspire_value": m.aspire,
            "portal_value": m.portal,
            "difference": m.difference,
            "read_bound": drift.read_bound,
        }
        for drift in drifts
        for m in (*drift.totals, *drift.owners)
    ]
    with target.cursor() as cursor:
        cursor.executemany(sqlfiles.read("reconcile/insert_reconciliation.sql"), rows)
        cursor.execute(sqlfiles.read("reconcile/delete_old_reconciliation.sql"))
    return len(rows)


def _owner(m: Measurement) -> str:
    return f"contract {m.contract_oid}" if m.contract_oid is not None else f"account {m.account_oid}"


def _fmt(value: Number | None) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}" if isinstance(value, Decimal) else f"{value:,}"
