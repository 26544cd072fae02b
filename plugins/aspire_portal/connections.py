"""Opens the `aspire` (source) and `portal` (target) connections the standard Airflow way.

The hook comes from the connection, not from a type named in code: in production `aspire` is an mssql
connection to ASPIRE (MsSqlHook, pymssql); in the demo, tests and benchmarks it points at the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import psycopg

from aspire_portal import sqlfiles
from aspire_portal.model import Dialect, LockTimeouts, dialect_of
from aspire_portal.settings import SOURCE_CONN_ID, TARGET_CONN_ID


@contextmanager
def source_connection(conn_id: str = SOURCE_CONN_ID) -> Iterator[tuple[Any, Dialect]]:
    """A DB-API connection to ASPIRE and its dialect."""
    from airflow.sdk import BaseHook

    connection = BaseHook.get_connection(conn_id)
    dialect = dialect_of(connection.conn_type)
    with closing(connection.get_hook().get_conn()) as conn:
        yield conn, dialect


@contextmanager
def target_connection(conn_id: str = TARGET_CONN_ID) -> Iterator[psycopg.Connection]:
    """An autocommit psycopg 3 connection to the portal database (each unit of work opens its transaction)."""
    from airflow.sdk import BaseHook

    connection = BaseHook.get_connection(conn_id)
    if dialect_of(connection.conn_type) != "postgres":
        raise ValueError(
            f"connection {conn_id!r} must be a postgres connection to the portal database, "
            f"got type {connection.conn_type!r}"
        )
    conn = connection.get_hook().get_conn()
    if not isinstance(conn, psycopg.Connection):
        raise RuntimeError(
            "the postgres provider returned a psycopg2 connection; install psycopg 3 (see "
            "requirements.txt) so the portal load can COPY with psycopg 3"
        )
    with closing(conn):
        conn.autocommit = True
        # Every wait for a lock ends (a load's transaction sets its own bounds, see model.LockTimeouts): the
        # small tasks around the loads read portal.portal_user_account and write aspire_sync too.
        conn.execute(sqlfiles.read("turns/set_session_lock_timeout.sql"), {"timeout": LockTimeouts.other})
        yield conn
