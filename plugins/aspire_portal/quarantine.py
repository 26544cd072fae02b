"""Source rows the portal cannot take, kept aside so one bad row never stops an entity for everyone.

ASPIRE is input from outside the sync: a row may carry a NULL where the portal's column needs a value, or a value
beyond the column's range or length. A load stages its rows in a table wider than its target (no NOT NULL, no length
or precision limit), so every row stages. Its merge runs as always; only when the merge fails on such a row is it run
again with each row checked against the target's limits (`column_checks`): the rows that fail are not written and go
to ``aspire_sync.source_quarantine`` with what is wrong with them, every other row is written, and the load (and its
watermark) completes. The portal keeps the version of a rejected row it had, if any.

Every later load of the entity reads the quarantined keys again (an extract pass by key), so a row loads on the first
run after ASPIRE is fixed; a row leaves the quarantine when it loads, or when it is no longer in scope (or in ASPIRE).
`status` and `explain` show the quarantine, and each new quarantined row is alerted.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from aspire_portal import sqlfiles
from aspire_portal.catalogue import Entity
from aspire_portal.columns import Column
from aspire_portal.copystream import Diverted
from aspire_portal.model import Quarantined

log = logging.getLogger(__name__)

# The columns that say whose a row is: a row whose owner changed is never kept under its old owner.
OWNER_COLUMNS = ("account_oid", "customer_account_oid", "contract_oid", "invoice_oid")


def column_checks(target: psycopg.Connection, columns: list[Column]) -> list[tuple[str, str]]:
    """For a checked merge: per limit of a target column, a predicate over a staged row `c` that is true when the row
    breaks it, and the words that say so. Built from the catalogue of the portal's own table, never from data."""
    checks = []
    for column in columns:
        quoted = f"c.{sql.Identifier(column.name).as_string(target)}"
        name = column.name
        if column.not_null:
            checks.append((f"{quoted} is null", f"{name} is NULL where the portal needs a value"))
        if column.max_length is not None:  # the portal drops trailing spaces beyond the length itself
            checks.append(
                (
                    f"char_length(rtrim({quoted}, ' ')) > {column.max_length}",
                    f"{name} is longer than the portal's {column.max_length} characters",
                )
            )
        if column.precision is not None and column.scale is not None:
            checks.append(
                (
                    f"({quoted} <> 'NaN' and abs({quoted}) >= 1e{column.precision - column.scale})",
                    f"{name} does not fit the portal's {column.declared}",
                )
            )
        if column.type_name in _INTEGER_RANGES:
            low, high = _INTEGER_RANGES[column.type_name]
            checks.append(
                (f"{quoted} not between {low} and {high}", f"{name} does not fit the portal's {column.declared}")
            )
    return checks


_INTEGER_RANGES = {"int2": (-(2**15), 2**15 - 1), "int4": (-(2**31), 2**31 - 1)}


def retry_keys(target: psycopg.Connection, entity: Entity) -> list[int]:
    """The quarantined rows of `entity`, as the values of its first key column: each load reads them again."""
    rows = target.execute(
        sqlfiles.read("quarantine/select_retry_keys.sql"), {"entity": entity.name, "column": entity.key[0]}
    )
    return [row[0] for row in rows]


def owners(target: psycopg.Connection, entity: Entity, columns: list[str]) -> list[str]:
    """The quoted columns of `entity` that say whose a row is (see OWNER_COLUMNS)."""
    return [sql.Identifier(c).as_string(target) for c in OWNER_COLUMNS if c in columns and c not in entity.key]


def create_rejected(target: psycopg.Connection, entity: Entity, stage: str, columns: list[str]) -> str:
    """The load's temp table of rejected rows (key, owner columns, source_rowver, problems)."""
    rejected = sql.Identifier(f"rejected_{entity.name}").as_string(target)
    target.execute(
        sqlfiles.render(
            "quarantine/create_rejected.sql",
            rejected=rejected,
            stage=stage,
            key=_key(target, entity),
            owners=owners(target, entity, columns),
        )
    )
    return rejected


def divert(target: psycopg.Connection, entity: Entity, rejected: str, columns: list[str], rows: list[Diverted]) -> None:
    """Records the rows the extract held back from COPY as rejected, with what is wrong with each."""
    names = [*entity.key, *(c for c in OWNER_COLUMNS if c in columns and c not in entity.key), "source_rowver"]
    statement = sqlfiles.render(
        "quarantine/insert_rejected.sql",
        rejected=rejected,
        columns=[sql.Identifier(n).as_string(target) for n in names],
    )
    with target.cursor() as cursor:
        cursor.executemany(statement, [[*(row.values.get(n) for n in names), row.problem] for row in rows])


def keep(
    target: psycopg.Connection, entity: Entity, stage: str, rejected: str, columns: list[str], run_id: str | None
) -> list[Quarantined]:
    """Keeps the rejected rows in aspire_sync.source_quarantine, and leaves in the stage the portal's own version of
    each (none when the portal has none, or when ASPIRE's row now belongs to another account or contract: a row is
    never kept under its old owner), so the load's deletes and drift check treat it as they should. Returns them, new
    ones marked."""
    shape = {
        "stage": stage,
        "rejected": rejected,
        "target": entity.target_table,
        "key": _key(target, entity),
        "owners": owners(target, entity, columns),
        "columns": [sql.Identifier(c).as_string(target) for c in columns],
    }
    target.execute(sqlfiles.render("quarantine/delete_stage_rejected.sql", **shape))
    target.execute(sqlfiles.render("quarantine/insert_stage_kept.sql", **shape))
    rows = target.execute(
        sqlfiles.render("quarantine/upsert_source_quarantine.sql", key_names=list(entity.key), **shape),
        {"entity": entity.name, "run_id": run_id},
    ).fetchall()
    kept = [Quarantined(entity.name, row_key, problems, is_new) for row_key, problems, is_new in rows]
    for row in kept:
        log.warning(
            "Quarantined %s %s: %s. It was not written (the portal keeps the version it had, if any, while its owner "
            "is the same); every other row was. It is read again every run and loads once ASPIRE's row is fixed; see "
            "aspire_sync.source_quarantine.",
            entity.name,
            row.row_key,
            row.problems,
        )
    return kept


def release(
    target: psycopg.Connection,
    entity: Entity,
    stage: str,
    rejected: str | None,
    retried: list[int],
    *,
    everyone: bool,
) -> int:
    """Releases the quarantined rows this load settled (see quarantine/delete_released.sql); how many."""
    statement = sqlfiles.render(
        "quarantine/delete_released.sql",
        stage=stage,
        rejected=rejected,
        key=_key(target, entity),
        key_names=list(entity.key),
    )
    released = target.execute(
        statement,
        {"entity": entity.name, "everyone": everyone, "retry_column": entity.key[0], "retried": retried},
    ).rowcount
    if released:
        log.info("Released %d quarantined %s row(s): loaded now, or no longer in scope", released, entity.name)
    return released


def listing(
    target: psycopg.Connection, entity: Entity | None = None, row_key: str | None = None
) -> list[dict[str, Any]]:
    """Every quarantined source row (or the one of `entity` with `row_key`), oldest first."""
    statement = sqlfiles.render("quarantine/select_source_quarantine.sql", one=entity is not None)
    parameters = {} if entity is None else {"entity": entity.name, "row_key": row_key}
    with target.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        return cursor.execute(statement, parameters).fetchall()


def describe(row: dict[str, Any]) -> str:
    """One quarantined row in words, for `status` and `explain`."""
    return (
        f"{row['entity']} {row['row_key']}: {row['problems']} (seen {row['times_seen']} time(s) since "
        f"{row['first_seen_at']:%Y-%m-%d %H:%M} UTC)"
    )


def _key(target: psycopg.Connection, entity: Entity) -> list[str]:
    return [sql.Identifier(k).as_string(target) for k in entity.key]
