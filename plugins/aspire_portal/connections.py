"""Opens the `aspire` (source) and `portal` (target) connections the standard Airflow way.

The hook comes from the connection, not from a type named in code: in production `aspire` is an mssql
connection to ASPIRE (MsSqlHook, pymssql); in the demo, tests and benchmarks it points at the emulator.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import psycopg

from aspire_portal import sqlfiles
from aspire_portal.model import Dialect, LockTimeouts, dialect_of
from aspire_portal.settings import SOURCE_CONN_ID, TARGET_CONN_ID

# How libpq says the server refused the login itself (the messages carry no SQLSTATE): a wrong or missing password,
# a role the server does not know or that may not log in, no pg_hba.conf line for it. Waiting changes none of them
# ("too many connections for role" it does: not here).
_LOGIN_REFUSED = re.compile(
    r"password authentication failed|no password supplied|no pg_hba\.conf entry"
    r'|role "[^"]*" (does not exist|is not permitted to log in)'
)


def login_refused(error: BaseException) -> bool:
    """Whether `error`, raised while connecting, is PostgreSQL refusing the login (credentials or pg_hba.conf),
    not a server that is down or busy."""
    return type(error).__name__ == "OperationalError" and _LOGIN_REFUSED.search(str(error)) is not None


def _connect(connection: Any) -> Any:
    """The hook's DB-API connection; a refused login fails the task for good (AirflowFailException): its retries,
    minutes apart, would only delay the failure mail, and the person who fixes the connection clears the task."""
    try:
        return connection.get_hook().get_conn()
    except Exception as error:
        if not login_refused(error):
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"the server refused the login of connection {connection.conn_id!r} (a retry cannot fix it: correct the "
            f"connection's login or password, then clear the task): {error}"
        ) from error


@contextmanager
def source_connection(conn_id: str = SOURCE_CONN_ID) -> Iterator[tuple[Any, Dialect]]:
    """A DB-API connection to ASPIRE and its dialect."""
    from airflow.sdk import BaseHook

    connection = BaseHook.get_connection(conn_id)
    dialect = dialect_of(connection.conn_type)
    with closing(_connect(connection)) as conn:
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
    conn = _connect(connection)
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
