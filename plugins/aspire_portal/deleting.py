"""The deletes: what a load's scope no longer holds leaves the portal, in the load's transaction, and only below its
read bound (docs/adr/0005-deletes-below-the-read-bound.md).

A row at or above the read bound was written by a newer read than this load's: it is kept, and the accounts and
contracts it belongs to stay held, so a later run whose bound is past it looks at it again. The removal guard
refuses a load that would remove too much (docs/adr/0006-refuse-rather-than-wipe.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from aspire_portal import advice, sqlfiles, vanished
from aspire_portal.model import Dialect, LoadResult, MassRemoval, RemovalGuard
from aspire_portal.planning import Plan, Scope
from aspire_portal.staging import Extraction, window

log = logging.getLogger(__name__)

REBASELINE_BOUND = 2**63 - 1


@dataclass(frozen=True)
class Deleted:
    """What a load's deletes removed, and the accounts and contracts of the rows they had to keep (at or above the
    read bound: a newer read wrote them), which the entity must go on holding."""

    rows: int = 0
    kept_accounts: frozenset[int] = frozenset()
    kept_contracts: frozenset[int] = frozenset()


def delete(load: Extraction, stage: str, plan: Plan, resolved: Scope) -> Deleted:
    """Deletes what this load's scope no longer holds: everything the extract did not return (a full load over
    everyone); the re-read customers' rows it did not return (a full load of some); or, in the 15-minute run, the
    rows changed in the window that left the scope and the rows of the accounts and contracts that left it. A load
    that lets go of accounts or contracts also learns which of their rows it had to keep."""
    target, request, entity = load.target, load.request, load.request.entity
    key = [sql.Identifier(k).as_string(target) for k in entity.key]
    # after ASPIRE went back in time, a portal row at or above the new read bound is of the old timeline: no load of
    # the new one wrote it (a re-baseline has the entity to itself), so it goes if ASPIRE lacks it
    bound = {"read_bound": REBASELINE_BOUND if request.rebaseline else load.result.read_bound}
    shared = entity.owner == "shared" and request.kind != "full"  # read whole for what the scope uses
    if request.over_everyone or shared:
        return _deleted_missing(target, entity.target_table, entity.owner, stage, key, plan, bound)
    rows = 0
    if request.kind in ("incremental", "backfill"):
        rows += _delete_departed(load, stage, key)
    rows += vanished.deleted_in_aspire(load, key)
    if not (request.kind == "full" or plan.has_exits):
        return Deleted(rows)
    if resolved.resolution_id is None:  # what follows judges rows by the stored scope, which must be this one
        raise RuntimeError(f"the delete of {entity.name} needs a stored scope; this load's scope was not stored")
    invoices = unjustified_invoices(load.source, load.dialect, plan) if entity.owner == "invoice" else []
    mode = "missing" if request.kind == "full" else "exits"
    parameters = {
        **bound,
        "entity": entity.name,
        "resolution_id": resolved.members_id,
        "taken_from": resolved.taken_from,
        "excluded_accounts": sorted(resolved.customers or ()) if request.kind == "full" else [],
        "own_contracts": list(plan.gone_contracts) if request.kind == "full" else [],
        "accounts": list(plan.gone_accounts),
        "contracts": list(plan.gone_contracts),
        "invoices": invoices,
    }
    shape = {
        "stage": stage,
        "target": entity.target_table,
        "key": key,
        "owner": entity.owner,
        "mode": mode,
        "taken_by": resolved.taken_by,
    }
    rows += target.execute(sqlfiles.render("load/delete_out_of_scope.sql", **shape), parameters).fetchone()[0]
    if not plan.lets_go:
        return Deleted(rows)
    kept = target.execute(sqlfiles.render("load/select_kept_out_of_scope.sql", **shape), parameters).fetchone()
    return _kept(kept, plan, rows)


def guard_rows(
    target: psycopg.Connection,
    table: str,
    result: LoadResult,
    guard: RemovalGuard,
    dag_id: str | None,
    *,
    rebaseline: bool = False,
) -> None:
    """Refuses (the load's transaction rolls back) a load that removed too many of its entity's rows."""
    if not guard.trips(result.rows_deleted, result.rows_deleted):  # a first, cheap test: most loads delete little
        return
    remaining = target.execute(sqlfiles.render("load/select_row_count.sql", target=table))
    before = remaining.fetchone()[0] + result.rows_deleted - result.rows_inserted
    if guard.trips(result.rows_deleted, before):
        raise MassRemoval(
            f"the load of {result.entity} would remove {result.rows_deleted:,} of the {before:,} rows of "
            f"{table} ({result.rows_deleted / max(before, 1):.0%}) in one run: more than the "
            f"guard allows ({guard.max_fraction:.0%} and more than {guard.floor:,} rows). Nothing was written. "
            + advice.mass_removal(dag_id, rebaseline=rebaseline)
        )


def _deleted_missing(
    target: psycopg.Connection,
    table: str,
    owner: str,
    stage: str,
    key: list[str],
    plan: Plan,
    bound: dict[str, Any],
) -> Deleted:
    """Deletes the target rows the stage lacks (below the read bound), and what of those it let go of it had to keep."""
    statement = sqlfiles.render("load/delete_missing.sql", stage=stage, target=table, key=key, changed=None)
    rows = target.execute(statement, bound).fetchone()[0]
    if not plan.lets_go:
        return Deleted(rows)
    kept = sqlfiles.render("load/select_kept_missing.sql", stage=stage, target=table, key=key, owner=owner)
    return _kept(target.execute(kept, bound).fetchone(), plan, rows)


def _kept(row: tuple[list[int], list[int], int], plan: Plan, rows: int) -> Deleted:
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


def _delete_departed(load: Extraction, stage: str, key: list[str]) -> int:
    """Deletes the rows ASPIRE changed in the window that the extract did not return (they left the scope)."""
    target, request, entity = load.target, load.request, load.request.entity
    statement = sqlfiles.render(
        "extract/select_changed_keys.sql",
        dialect=load.dialect,
        load_kind=request.kind,
        source_table=entity.source_table,
        parent=entity.parent,
        keys=list(zip(entity.source_key, entity.key, strict=True)),
    )
    changed, _ = vanished.stream_keys(load, f"changed_{entity.name}", statement, window(request, load.result), key)
    return target.execute(
        sqlfiles.render("load/delete_missing.sql", changed=changed, stage=stage, target=entity.target_table, key=key),
        {"read_bound": load.result.read_bound},
    ).fetchone()[0]


def unjustified_invoices(source: Any, dialect: Dialect, plan: Plan) -> list[int]:
    """The invoices, as ASPIRE has them now, billed to the plan's candidate accounts or raised on its candidate
    contracts, that nothing the plan keeps justifies: their detail lines may leave the portal."""
    if not plan.has_exits:
        return []
    short_lists, parameters = sqlfiles.id_lists(accounts=plan.gone_accounts, scoped_contracts=plan.gone_contracts)
    statement = sqlfiles.render(
        "extract/select_invoice_owners.sql",
        dialect=dialect,
        load_kind="full",
        scope_known=True,
        short_lists=short_lists,
    )
    with source.cursor() as cursor:
        cursor.execute(statement, parameters)
        rows = cursor.fetchall()
    return sorted(
        int(invoice)
        for invoice, account, contract in rows
        if int(account) not in plan.keep_accounts and (contract is None or int(contract) not in plan.keep_contracts)
    )
