"""The merge: the stage into its target in one statement, newest `source_rowver` wins and unchanged rows are not
written (docs/adr/0003-newest-wins-merge.md).

A row the target cannot take fails the merge (rolled back to a savepoint); the merge then runs again with every row
checked against the target's limits, writes the others and rejects those (see aspire_portal.quarantine).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from aspire_portal import quarantine, sqlfiles
from aspire_portal.catalogue import Entity
from aspire_portal.columns import ROW_ERRORS, Column

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Merged:
    """What a merge wrote, and the table of the rows it (or the extract before it) rejected, if any."""

    inserted: int
    updated: int
    rejected: str | None = None


def merge_statement(
    target: psycopg.Connection,
    entity: Entity,
    stage: str,
    described: list[Column],
    *,
    dedupe: bool = False,
    repair: bool = False,
    rebaseline: bool = False,
    rejected: str | None = None,
) -> str:
    """The merge of `stage` into the entity's target; with `rejected`, the checked merge that rejects into it the rows
    the target cannot take. `dedupe`: the stage may hold a row twice (several passes); `repair`: a full load's own
    version wins even at an equal row version (the daily refresh); `rebaseline`: ASPIRE's rows win whatever their row
    versions (after ASPIRE went back in time)."""
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
        "rebaseline": rebaseline,
    }
    if rejected is None:
        return sqlfiles.render("load/merge_stage.sql", checks=None, **shape)
    return sqlfiles.render(
        "load/merge_stage.sql",
        checks=quarantine.column_checks(target, described),
        rejected=rejected,
        owners=quarantine.owners(target, entity, columns),
        **shape,
    )


def merge(
    target: psycopg.Connection,
    entity: Entity,
    stage: str,
    described: list[Column],
    synced_at: datetime,
    *,
    dedupe: bool = False,
    repair: bool = False,
    rebaseline: bool = False,
    rejected: str | None = None,
) -> Merged:
    """Merges the stage into the target; a row the target cannot take sends the merge again, checked, and rejected
    rows into `rejected` (created if the extract rejected none)."""
    shape = {"dedupe": dedupe, "repair": repair, "rebaseline": rebaseline}
    try:
        with target.transaction():
            inserted, updated, _none = target.execute(
                merge_statement(target, entity, stage, described, **shape), {"synced_at": synced_at}
            ).fetchone()
        return Merged(inserted, updated, rejected)
    except ROW_ERRORS as error:
        log.warning(
            "The merge of %s failed on a row the portal cannot take (%s); merging again with every row checked",
            entity.name,
            str(error).splitlines()[0],
        )
    rejected = rejected or quarantine.create_rejected(target, entity, stage, [c.name for c in described])
    checked = merge_statement(target, entity, stage, described, rejected=rejected, **shape)
    inserted, updated, _rejected = target.execute(checked, {"synced_at": synced_at}).fetchone()
    return Merged(inserted, updated, rejected)
