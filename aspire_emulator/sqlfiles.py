"""The emulator's SQL, read from include/sql/emulator: every statement lives in a file, none in Python."""

from __future__ import annotations

import functools
from pathlib import Path

from psycopg import sql

from .catalog import COLUMNS

SQL_DIR = Path(__file__).resolve().parent.parent / "include" / "sql" / "emulator"


@functools.cache
def statement(name: str) -> str:
    """The text of include/sql/emulator/`name` (e.g. "simulate/update_invoice_balance.sql")."""
    path = SQL_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} is missing; the emulator expects it in {SQL_DIR}")
    return path.read_text()


def column(name: str) -> sql.Identifier:
    """A dbo column as the schema spells it: folded to lower case, except the quoted "LineNo"."""
    return sql.Identifier(name if name == "LineNo" else name.lower())


def copy_into(table: str, extra: tuple[str, ...] = ()) -> sql.Composed:
    """`copy dbo.<table> (<catalogue columns> + extra) from stdin`, built only from the table catalogue."""
    columns = COLUMNS[table] + extra
    return sql.SQL("copy dbo.{} ({}) from stdin").format(
        sql.Identifier(table.lower()), sql.SQL(", ").join(column(c) for c in columns)
    )
