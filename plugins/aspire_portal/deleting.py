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

from aspire_portal import advice, sqlfiles
from aspire_portal.copystream import Into, stream_rows
from aspire_portal.model import ChangeTrackingMissing, Dialect, LoadResult, MassRemoval, RemovalGuard
from aspire_portal.planning import Plan, Scope
from aspire_portal.staging import Extraction, analyze, window

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
    if request.kind == "incremental" and entity.cadence == "15min" and load.options.deletes == "key_check":
        load.result.deletes_found_by = "key_check"
        rows += _delete_vanished(load, key)
    elif request.kind == "incremental" and entity.cadence == "15min" and load.options.deletes == "change_tracking":
        rows += _delete_tracked(load, key)
    if not (request.kind == "full" or plan.has_exits):
        return Deleted(rows)
    invoices = unjustified_invoices(load.source, load.dialect, plan) if entity.owner == "invoice" else []
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
    changed = sql.Identifier(f"changed_{entity.name}").as_string(target)
    target.execute(
        sqlfiles.render("load/create_changed_keys.sql", changed=changed, target=entity.target_table, key=key)
    )
    statement = sqlfiles.render(
        "extract/select_changed_keys.sql",
        dialect=load.dialect,
        load_kind=request.kind,
        source_table=entity.source_table,
        parent=entity.parent,
        keys=list(zip(entity.source_key, entity.key, strict=True)),
    )
    into = Into(changed, list(entity.key), key)
    stream_rows(
        load.source,
        target,
        statement,
        window(request, load.result),
        into,
        batch_size=load.options.batch_size,
        row_format=load.options.row_format,
        binary_copy=load.options.binary_copy,
    )
    analyze(target, changed)
    return target.execute(
        sqlfiles.render("load/delete_missing.sql", changed=changed, stage=stage, target=entity.target_table, key=key),
        {"read_bound": load.result.read_bound},
    ).fetchone()[0]


def _delete_vanished(load: Extraction, key: list[str]) -> int:
    """Deletes the portal rows whose key ASPIRE's table no longer has (deleted in ASPIRE), below the read bound: the
    key read comes after the bound, so a row written below it and still in ASPIRE is among the keys read. The
    accounts and contracts stay held; only rows go."""
    target, entity = load.target, load.request.entity
    existing = sql.Identifier(f"existing_{entity.name}").as_string(target)
    target.execute(
        sqlfiles.render("load/create_existing_keys.sql", existing=existing, target=entity.target_table, key=key)
    )
    statement = sqlfiles.render(
        "extract/select_existing_keys.sql",
        dialect=load.dialect,
        source_table=entity.source_table,
        keys=list(zip(entity.source_key, entity.key, strict=True)),
    )
    stream_rows(
        load.source,
        target,
        statement,
        {},
        Into(existing, list(entity.key), key),
        batch_size=load.options.batch_size,
        row_format=load.options.row_format,
        binary_copy=load.options.binary_copy,
    )
    analyze(target, existing)
    rows = target.execute(
        sqlfiles.render("load/delete_missing.sql", changed=None, stage=existing, target=entity.target_table, key=key),
        {"read_bound": load.result.read_bound},
    ).fetchone()[0]
    if rows:
        log.info("Deleted %d row(s) of %s whose key ASPIRE no longer has (deleted in ASPIRE)", rows, entity.name)
    return rows


def _delete_tracked(load: Extraction, key: list[str]) -> int:
    """Deletes the portal rows of the keys SQL Server Change Tracking reports deleted since the entity's last version
    (kept in aspire_sync.change_tracking_version): a key check instead when there is no version yet, or it is older
    than Change Tracking's minimum valid version (the cleanup removed changes it needs), or newer than the current
    one (ASPIRE went back). The version moves to the current one in the load's transaction, unless another load of
    the entity is running: having read ASPIRE before a delete, it may still commit the deleted row, so the next run
    reads the same changes again (reading a delete twice is harmless)."""
    target, request, entity = load.target, load.request, load.request.entity
    with load.source.cursor() as cursor:
        cursor.execute(
            sqlfiles.render(
                "extract/select_change_tracking_versions.sql", dialect=load.dialect, source_table=entity.source_table
            )
        )
        current, min_valid = cursor.fetchone()
    if min_valid is None:
        raise ChangeTrackingMissing(
            f"Change Tracking is not enabled on {entity.source_table}, yet the delete detection is change_tracking: "
            "enable it (docs/dags.md, 'Rows deleted in ASPIRE'), or set the Variable aspire_portal_delete_detection "
            "to key_check. Nothing was written."
        )
    current, min_valid = int(current), int(min_valid)
    parameters = {"entity": entity.name}
    others = target.execute(sqlfiles.read("changes/select_other_running_loads.sql"), parameters).fetchone()[0]
    row = target.execute(sqlfiles.read("changes/select_version.sql"), parameters).fetchone()
    last = None if row is None else int(row[0])
    if last is None or last < min_valid or last > current:
        why = (
            "no Change Tracking version yet"
            if last is None
            else f"version {last} is below the minimum valid {min_valid} (the cleanup removed changes)"
            if last < min_valid
            else f"version {last} is above the current {current} (ASPIRE went back)"
        )
        log.info("%s: %s, so every key is checked this time", entity.name, why)
        load.result.deletes_found_by = "key_check"
        rows = _delete_vanished(load, key)
    else:
        load.result.deletes_found_by = "change_tracking"
        rows = _delete_reported(load, key, last, current)
    if not others:
        target.execute(
            sqlfiles.read("changes/upsert_version.sql"),
            {"entity": entity.name, "version": current, "run_id": request.run.run_id},
        )
    else:
        log.info(
            "%s: another load of the entity is running; the Change Tracking version stays for the next run", entity.name
        )
    return rows


def _delete_reported(load: Extraction, key: list[str], last: int, current: int) -> int:
    """Deletes the portal rows of the keys Change Tracking reports deleted in (last, current]."""
    target, entity = load.target, load.request.entity
    deleted = sql.Identifier(f"deleted_{entity.name}").as_string(target)
    target.execute(
        sqlfiles.render("changes/create_deleted_keys.sql", deleted=deleted, target=entity.target_table, key=key)
    )
    shape = {"source_table": entity.source_table, "source_key": entity.source_key[0], "key": key[0]}
    stream_rows(
        load.source,
        target,
        sqlfiles.render("extract/select_deleted_keys.sql", dialect=load.dialect, **shape),
        {"last_version": last, "current_version": current},
        Into(deleted, list(entity.key), key),
        batch_size=load.options.batch_size,
        row_format=load.options.row_format,
        binary_copy=load.options.binary_copy,
    )
    bound = {"read_bound": load.result.read_bound}
    newer = [
        row[0]
        for row in target.execute(
            sqlfiles.render(
                "changes/select_deleted_at_or_above_bound.sql", deleted=deleted, target=entity.target_table, key=key
            ),
            bound,
        )
    ]
    present: list[int] = []
    if newer:
        short_lists, parameters = sqlfiles.id_lists(keys=newer)
        statement = sqlfiles.render(
            "extract/select_keys_present.sql", dialect=load.dialect, short_lists=short_lists, **shape
        )
        with load.source.cursor() as cursor:
            cursor.execute(statement, parameters)
            present = [int(r[0]) for r in cursor.fetchall()]
    rows = target.execute(
        sqlfiles.render("changes/delete_deleted_keys.sql", deleted=deleted, target=entity.target_table, key=key),
        {**bound, "present": present},
    ).fetchone()[0]
    log.info(
        "Change Tracking: %d row(s) of %s deleted in ASPIRE between versions %d and %d left the portal",
        rows,
        entity.name,
        last,
        current,
    )
    return rows


def forget_change_tracking(target: psycopg.Connection, entity: str) -> None:
    """After a re-baseline: the entity's next load checks every key and starts a new Change Tracking version."""
    target.execute(sqlfiles.read("changes/delete_version.sql"), {"entity": entity})


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
