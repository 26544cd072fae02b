"""Renders the SQL files of ``include/sql`` with Jinja. Jinja shapes the statement (tables, columns, optional
filters); values always travel as bound parameters."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path

import jinja2

# Id lists up to this long are bound id by id (a plain IN list the server can see) rather than as one JSON array
# (OPENJSON, whose length the planner cannot see): a customer's full sync then seeks its rows instead of scanning
# whole tables. Well below SQL Server's 2,100 parameters per statement.
SHORT_LIST = 1_000
SQL_DIR = Path(os.environ.get("ASPIRE_PORTAL_SQL_DIR", Path(__file__).resolve().parents[2] / "include" / "sql"))


@cache
def _environment() -> jinja2.Environment:
    # Compiled templates are cached on disk (keyed by each file's text; by default per user in the temp folder,
    # else in $ASPIRE_PORTAL_TEMPLATE_CACHE): every Airflow task is a new process, and compiling the extracts and
    # their macros again cost ~0.1 s per task.
    folder = os.environ.get("ASPIRE_PORTAL_TEMPLATE_CACHE")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(SQL_DIR),
        bytecode_cache=jinja2.FileSystemBytecodeCache(folder),
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


def id_lists(**lists: Sequence[int]) -> tuple[dict[str, int], dict[str, object]]:
    """Parameters for the macro `aspire.id_list`: each list as one JSON parameter, and the short ones also id by
    id (`<name>_<i>`); returns (short_lists, parameters), short_lists to render with (name -> length)."""
    short_lists: dict[str, int] = {}
    parameters: dict[str, object] = {}
    for name, ids in lists.items():
        parameters[name] = _as_json(ids) if isinstance(ids, tuple) else json.dumps(list(ids))
        if len(ids) <= SHORT_LIST:
            short_lists[name] = len(ids)
            parameters.update((f"{name}_{i}", oid) for i, oid in enumerate(ids))
    return short_lists, parameters


@lru_cache(maxsize=8)
def _as_json(ids: tuple[int, ...]) -> str:
    """A tuple of ids as JSON, encoded once for all the loads of a run that read the same scope (tens of thousands
    of ids at scale)."""
    return json.dumps(ids)
