"""Rows deleted in ASPIRE, found by a 15-minute load (docs/adr/0008-deletes-in-the-15-minute-run.md): a key check
(every key ASPIRE's table still has, read through its primary key) or SQL Server Change Tracking (the keys
CHANGETABLE reports deleted since the entity's version in aspire_sync.change_tracking_version). Either deletes in the
load's transaction; the accounts and contracts stay held."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from aspire_portal import settings, sqlfiles
from aspire_portal.copystream import Into, stream_rows
from aspire_portal.model import ChangeTrackingMissing
from aspire_portal.staging import Extraction, analyze

log = logging.getLogger(__name__)


def stream_keys(
    load: Extraction, name: str, statement: str, parameters: dict[str, Any], key: list[str]
) -> tuple[str, int]:
    """A temp table (dropped at commit) holding the keys `statement` reads from ASPIRE: its quoted name, and how many
    keys it holds."""
    target, entity = load.target, load.request.entity
    table = sql.Identifier(name).as_string(target)
    target.execute(sqlfiles.render("load/create_key_table.sql", table=table, target=entity.target_table, key=key))
    keys = stream_rows(
        load.source,
        target,
        statement,
        parameters,
        Into(table, list(entity.key), key),
        batch_size=load.options.batch_size,
        row_format=load.options.row_format,
        binary_copy=load.options.binary_copy,
    )
    analyze(target, table)
    return table, keys


def key_check(load: Extraction, key: list[str]) -> int:
    """Deletes the portal rows whose key ASPIRE's table no longer has (deleted in ASPIRE), below the read bound: the
    key read comes after the bound, so a row written below it and still in ASPIRE is among the keys read. The
    accounts and contracts stay held; only rows go."""
    return _key_check(load, key)[0]


def _key_check(load: Extraction, key: list[str]) -> tuple[int, str]:
    """key_check's deletes, and the temp table of the keys ASPIRE has (until the commit)."""
    entity = load.request.entity
    statement = sqlfiles.render(
        "extract/select_existing_keys.sql",
        dialect=load.dialect,
        source_table=entity.source_table,
        keys=list(zip(entity.source_key, entity.key, strict=True)),
    )
    started = time.monotonic()
    existing, keys = stream_keys(load, f"existing_{entity.name}", statement, {}, key)
    rows = load.target.execute(
        sqlfiles.render("load/delete_missing.sql", changed=None, stage=existing, target=entity.target_table, key=key),
        {"read_bound": load.result.read_bound},
    ).fetchone()[0]
    seconds = time.monotonic() - started
    log.info(
        "Key check of %s: %d key(s) ASPIRE has, read in %.1f s; %d portal row(s) deleted in ASPIRE removed",
        entity.name,
        keys,
        seconds,
        rows,
    )
    if seconds > settings.KEY_CHECK_SLOW_SECONDS:
        # Its cost grows with ASPIRE's table, not with what changed: the operator should hear it before the run
        # outgrows its 15 minutes.
        log.warning(
            "The key check of %s took %.1f s (over %.0f s) for %d keys: at this size SQL Server Change Tracking finds "
            "deletes in a fraction of that (docs/dags.md, 'Rows deleted in ASPIRE')",
            entity.name,
            seconds,
            settings.KEY_CHECK_SLOW_SECONDS,
            keys,
        )
    return rows, existing


def deleted_in_aspire(load: Extraction, key: list[str]) -> int:
    """Deletes what ASPIRE deleted, the way the load's options say (a 15-minute entity's incremental load only; with
    "daily", or for any other load, nothing here)."""
    if not _finds_deletes(load):
        return 0
    if load.options.deletes == "change_tracking":
        return tracked(load, key)
    load.result.deletes_found_by = "key_check"
    return key_check(load, key)


def tracks_changes(load: Extraction) -> bool:
    """Whether this load finds deletes by Change Tracking (a 15-minute entity's incremental load in that mode)."""
    return _finds_deletes(load) and load.options.deletes == "change_tracking"


def _finds_deletes(load: Extraction) -> bool:
    request = load.request
    return request.kind == "incremental" and request.entity.cadence == "15min" and load.options.deletes != "daily"


def start_change_tracking(load: Extraction) -> None:
    """Before a first load copies straight into the empty table (no delete step): the Change Tracking version read
    before the copy reads ASPIRE becomes the entity's, so the next run does not check every key. A delete at or
    below it had committed before the copy read, so the copy lacks the row."""
    current = _change_tracking_versions(load)[0]
    _keep_version(load, current, _others_running(load))


def _change_tracking_versions(load: Extraction) -> tuple[int, int]:
    """Change Tracking's current version and the entity's table's minimum valid version."""
    entity = load.request.entity
    with load.source.cursor() as cursor:
        cursor.execute(
            sqlfiles.render(
                "extract/select_change_tracking_versions.sql", dialect=load.dialect, source_table=entity.source_table
            )
        )
        current, min_valid = cursor.fetchone()
    if min_valid is None:
        raise ChangeTrackingMissing(
            f"Change Tracking is not enabled on {entity.source_table}, or the sync's user lacks VIEW CHANGE TRACKING "
            "on it, yet the delete detection is change_tracking: enable it and grant it (docs/dags.md, 'Rows deleted "
            "in ASPIRE'), or set the Variable aspire_portal_delete_detection to key_check. Nothing was written."
        )
    return int(current), int(min_valid)


def _others_running(load: Extraction) -> bool:
    """Whether another load of the entity is running. Asked after Change Tracking's current version was read and
    before any delete: a load that commits later yet is not seen running here read ASPIRE after that version was
    read, so it cannot hold a row deleted at or below it."""
    found = load.target.execute(
        sqlfiles.read("changes/select_other_running_loads.sql"), {"entity": load.request.entity.name}
    )
    return bool(found.fetchone()[0])


def _keep_version(load: Extraction, current: int, others: bool) -> None:
    """Moves the entity's Change Tracking version to `current`, unless another load of the entity was running."""
    entity = load.request.entity
    if others:
        log.info(
            "%s: another load of the entity is running; the Change Tracking version stays for the next run",
            entity.name,
        )
        return
    load.target.execute(
        sqlfiles.read("changes/upsert_version.sql"),
        {"entity": entity.name, "version": current, "run_id": load.request.run.run_id},
    )


def tracked(load: Extraction, key: list[str]) -> int:
    """Deletes the portal rows of the keys SQL Server Change Tracking reports deleted since the entity's last version
    (kept in aspire_sync.change_tracking_version): a key check instead when there is no version yet, or it is older
    than Change Tracking's minimum valid version (the cleanup removed changes it needs), or newer than the current
    one (ASPIRE went back). The version moves to the current one in the load's transaction, unless another load of
    the entity is running (having read ASPIRE before a delete, it may still commit the deleted row), or a key check
    kept a row ASPIRE lacks because a newer read wrote it: then the next run reads the same changes again, or checks
    every key again (deleting twice is harmless). ASPIRE is read in one snapshot throughout."""
    target, entity = load.target, load.request.entity
    with _one_snapshot(load):
        current, min_valid = _change_tracking_versions(load)
        others = _others_running(load)
        row = target.execute(sqlfiles.read("changes/select_version.sql"), {"entity": entity.name}).fetchone()
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
            rows, existing = _key_check(load, key)
            kept = target.execute(
                sqlfiles.render(
                    "changes/count_absent_at_or_above_bound.sql", existing=existing, target=entity.target_table, key=key
                ),
                {"read_bound": load.result.read_bound},
            ).fetchone()[0]
            if kept:
                log.info(
                    "%s: %d row(s) ASPIRE lacks were written by a newer read and stay for now; the next run checks "
                    "every key again",
                    entity.name,
                    kept,
                )
                return rows
        else:
            load.result.deletes_found_by = "change_tracking"
            rows = _delete_reported(load, key, last, current)
            if _change_tracking_versions(load)[1] > last:  # the cleanup passed it meanwhile: trust none of it
                log.info("%s: the cleanup passed version %d while it was read; every key is checked", entity.name, last)
                load.result.deletes_found_by = "key_check"
                rows += key_check(load, key)
    _keep_version(load, current, others)
    return rows


@contextmanager
def _one_snapshot(load: Extraction) -> Iterator[None]:
    """The reads of ASPIRE inside see one snapshot; the load's own read transaction ends first (it only read)."""
    load.source.rollback()
    with load.source.cursor() as cursor:
        cursor.execute(sqlfiles.render("extract/begin_snapshot.sql", dialect=load.dialect))
    try:
        yield
    finally:
        load.source.rollback()
        if load.dialect == "mssql":
            with load.source.cursor() as cursor:
                cursor.execute(sqlfiles.read("extract/end_snapshot.sql"))


def _delete_reported(load: Extraction, key: list[str], last: int, current: int) -> int:
    """Deletes the portal rows of the keys Change Tracking reports deleted in (last, current]."""
    target, entity = load.target, load.request.entity
    shape = {"source_table": entity.source_table, "source_key": entity.source_key[0], "key": key[0]}
    deleted, _ = stream_keys(
        load,
        f"deleted_{entity.name}",
        sqlfiles.render("extract/select_deleted_keys.sql", dialect=load.dialect, **shape),
        {"last_version": last, "current_version": current},
        key,
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
    present: set[int] = set()
    if newer:
        short_lists, parameters = sqlfiles.id_lists(keys=newer)
        statement = sqlfiles.render(
            "extract/select_keys_present.sql", dialect=load.dialect, short_lists=short_lists, **shape
        )
        with load.source.cursor() as cursor:
            cursor.execute(statement, parameters)
            present = {int(r[0]) for r in cursor.fetchall()}
    rows = target.execute(
        sqlfiles.render("changes/delete_deleted_keys.sql", deleted=deleted, target=entity.target_table, key=key),
        {**bound, "absent": [k for k in newer if int(k) not in present]},
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
