"""Renders the SQL files of ``include/sql`` with Jinja. Jinja shapes the statement (tables, columns, optional
filters); values always travel as bound parameters."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import jinja2

SQL_DIR = Path(os.environ.get("ASPIRE_PORTAL_SQL_DIR", Path(__file__).resolve().parents[2] / "include" / "sql"))


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(SQL_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - SQL, not HTML; values are bound parameters, never rendered
    )


def render(path: str, **context: object) -> str:
    """The statement in ``include/sql/<path>``, rendered with `context`."""
    return _environment().get_template(path).render(**context)


def read(path: str) -> str:
    """The statement in ``include/sql/<path>`` as written (for files without Jinja)."""
    return (SQL_DIR / path).read_text()
