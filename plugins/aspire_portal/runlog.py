"""The run log (aspire_sync.run_log) and the watermarks: what each load did, and where each entity's 15-minute
loads read from next.

A load writes its run-log row as running when it starts (committed at once, with its session's pid), and completes
it in its own transaction; a load that dies leaves the row running, and the next load of the entity marks it failed.
The watermark moves only in the transaction of a successful incremental load, with that load's rows.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import psycopg

from aspire_portal import sqlfiles
from aspire_portal.catalogue import Entity
from aspire_portal.model import LoadRequest, LoadResult

log = logging.getLogger(__name__)


def watermark(target: psycopg.Connection, entity: Entity, default: int | None = 0) -> int | None:
    """Where the entity's next incremental load reads from; `default` before its first (0: from the beginning).
    The one reader of aspire_sync.watermark for the loads."""
    row = target.execute(sqlfiles.read("runlog/select_watermark.sql"), {"entity": entity.name}).fetchone()
    return row[0] if row else default


def move_watermark(target: psycopg.Connection, request: LoadRequest, result: LoadResult) -> None:
    """Moves the entity's watermark to the load's read bound, in the load's transaction (a re-baseline sets it there,
    even below the old one)."""
    target.execute(
        sqlfiles.read("runlog/reset_watermark.sql" if request.rebaseline else "runlog/upsert_watermark.sql"),
        {
            "entity": request.entity.name,
            "read_bound": result.read_bound,
            "data_as_of": result.data_as_of,
            "run_id": request.run.run_id,
        },
    )


def start(target: psycopg.Connection, request: LoadRequest, result: LoadResult, started_at: datetime) -> int:
    """Writes the load's run-log row as running, on its own (committed at once), with its session's pid: if the process
    dies before the load ends, the row stays, and the next load of the entity marks it failed (first doing so for
    earlier ones)."""
    target.execute(sqlfiles.read("runlog/update_abandoned_run_logs.sql"), {"entity": request.entity.name})
    return record(target, request, result, started_at, status="running")


def record(
    target: psycopg.Connection,
    request: LoadRequest,
    result: LoadResult,
    started_at: datetime,
    *,
    status: str,
    error: str | None = None,
    log_id: int | None = None,
) -> int:
    """Writes the load's run-log row (completes the one `log_id` names, else inserts one); its id."""
    counts: dict[str, Any] = {
        "low_rowver": result.watermark,
        "high_rowver": result.read_bound,
        "data_as_of": result.data_as_of,
        "rows_read": result.rows_read,
        "rows_inserted": result.rows_inserted,
        "rows_updated": result.rows_updated,
        "rows_deleted": result.rows_deleted,
        "status": status,
        "error": error,
    }
    if log_id is not None:
        target.execute(sqlfiles.read("runlog/update_run_log.sql"), {"run_log_id": log_id, **counts})
        return log_id
    return target.execute(
        sqlfiles.read("runlog/insert_run_log.sql"),
        {
            "dag_id": request.run.dag_id,
            "run_id": request.run.run_id,
            "task_id": request.run.task_id,
            "entity": result.entity,
            "load_kind": result.load_kind,
            "customer_id": request.customer_id,
            "modified_from": request.modified_from,
            "modified_to": request.modified_to,
            "started_at": started_at,
            **counts,
        },
    ).fetchone()[0]


def record_failure(
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
            record(target, request, result, started_at, status="failed", error=message, log_id=log_id)
    except psycopg.Error as log_error:  # the portal itself may be what failed
        log.warning("Could not record the failure in aspire_sync.run_log: %s", log_error)


def record_refusal(target: psycopg.Connection, request: LoadRequest, error: BaseException) -> None:
    """Records in the run log a load that was refused before it began (its run's scope resolution refused a mass
    removal), so `status` and `explain` show the entity failing with the reason."""
    result = LoadResult(entity=request.entity.name, load_kind=request.kind)
    record_failure(target, request, result, datetime.now(UTC), error)
