"""A portal table's columns as a load sees them: names, types and limits, read from the portal's own catalogue."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from aspire_portal import sqlfiles
from aspire_portal.catalogue import Entity

# The errors a merge or a COPY raises on a row the target cannot take (NULL in a NOT NULL column, a value out of
# range or too long, a failed CHECK): the merge then runs again with every row checked.
ROW_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError)


@dataclass(frozen=True)
class Column:
    """One target column as the stage and the checks see it."""

    name: str
    type_name: str
    declared: str
    not_null: bool
    max_length: int | None
    precision: int | None
    scale: int | None

    @property
    def staged(self) -> str:
        """The stage's type: wide enough for any value ASPIRE sends, so the limits are checked in SQL, not by COPY."""
        if self.type_name in ("int2", "int4"):
            return "bigint"
        if self.type_name in ("varchar", "bpchar"):
            return self.type_name
        if self.type_name == "numeric" and self.scale is not None:
            return f"numeric(1000, {self.scale})"  # the target's rounding, without its precision limit
        return self.declared


def target_columns(target: psycopg.Connection, entity: Entity) -> list[Column]:
    """The target's columns (but synced_at, which the load sets) with their types and limits."""
    rows = target.execute(sqlfiles.read("load/select_target_column_types.sql"), {"table": entity.target_table})
    return [Column(*row) for row in rows if row[0] != "synced_at"]


def described(target: psycopg.Connection, entity: Entity) -> list[Column]:
    """The target's columns; a clear error when the table or its key is missing."""
    columns = target_columns(target, entity)
    names = [c.name for c in columns]
    if not names:
        raise RuntimeError(f"target table {entity.target_table} does not exist; run the portal migrations first")
    missing = [k for k in entity.key if k not in names]
    if missing:
        raise RuntimeError(f"target table {entity.target_table} lacks the key column(s) {missing}")
    return columns
