"""What the tests share: the test server and its databases, the Airflow connections, DAG runs, the SMTP inbox and
the roles a test creates. Imported by the tests and by conftest.py (which holds the fixtures); importing it does
not import Airflow."""

from __future__ import annotations

import email
import html
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]

ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


# One prefix per test session (process id and a random part: containers sharing a server repeat process ids), so
# two sessions on one server never share or drop each other's databases; the session drops every database of its
# prefix when it ends.
DB_PREFIX = os.environ.get("TEST_DB_PREFIX", f"aspire_portal_test_{os.getpid()}_{os.urandom(3).hex()}")


def database_dsn(name: str) -> str:
    """The DSN of database `name` on the test server, as TEST_PG_DSN's user (its password included)."""
    info = psycopg.conninfo.conninfo_to_dict(ADMIN_DSN)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def as_role(dsn: str, role: str, password: str) -> str:
    """`dsn` logging in as `role` with its own password (never the password of the user `dsn` names)."""
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    info.update(user=role, password=password)
    return psycopg.conninfo.make_conninfo(**info)


def server_environment() -> dict[str, str]:
    """The libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, ...) naming the test server as TEST_PG_DSN's user,
    for the command-line tools a test runs (psql, createdb)."""
    info = psycopg.conninfo.conninfo_to_dict(ADMIN_DSN)
    info.pop("dbname", None)
    unknown = set(info) - set(_LIBPQ_VARIABLES)
    if unknown:
        raise ValueError(f"TEST_PG_DSN has settings the command-line tests cannot pass on: {sorted(unknown)}")
    return {_LIBPQ_VARIABLES[key]: str(value) for key, value in info.items()}


_LIBPQ_VARIABLES = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


def check_server() -> str | None:
    """None when TEST_PG_DSN accepts a connection; else why not (libpq's words), so a run can stop at once instead
    of failing every test, each after its retries."""
    try:
        with psycopg.connect(ADMIN_DSN, connect_timeout=10) as conn:
            conn.execute("select 1")
    except psycopg.Error as error:
        from aspire_emulator.dsn import masked

        return f"cannot connect to the test server TEST_PG_DSN={masked(ADMIN_DSN)}: {error}"
    return None


CREATED: list[str] = []  # the databases this session created: what it drops when it ends


def recreate_database(name: str) -> str:
    """Drop and create an empty database on the test server; returns its DSN."""
    CREATED.append(name)
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return database_dsn(name)


def minimal_work_mem(dsn: str) -> None:
    """Runs every later session of the database with work_mem at its minimum (64kB), so a plan that only works
    while a subquery fits in memory (an unhashable NOT IN) shows up on small data."""
    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("alter database {} set work_mem = '64kB'").format(sql.Identifier(name)))


def use_connections(aspire_dsn: str, portal_dsn: str) -> None:
    """Points the Airflow connections `aspire` and `portal` at the given databases, the standard way."""
    from aspire_emulator.dsn import conninfo_to_uri

    os.environ["AIRFLOW_CONN_ASPIRE"] = conninfo_to_uri(aspire_dsn)
    os.environ["AIRFLOW_CONN_PORTAL"] = conninfo_to_uri(portal_dsn)


def run_cli(aspire_dsn: str, portal_dsn: str, *args: str) -> subprocess.CompletedProcess:
    """`python -m aspire_portal <args>` as an operator runs it: a new process, the databases as URIs."""
    from aspire_emulator.dsn import conninfo_to_uri

    return subprocess.run(
        [
            sys.executable,
            "-m",
            "aspire_portal",
            *args,
            "--aspire-dsn",
            conninfo_to_uri(aspire_dsn),
            "--portal-dsn",
            conninfo_to_uri(portal_dsn),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO / "plugins")},
    )


INCREMENTAL_DAG_ID = "aspire_portal_incremental"
DAILY_DAG_ID = "aspire_portal_daily_refresh"


FULL_SYNC_DAG_ID = "aspire_portal_customer_full_sync"


def settle(aspire: psycopg.Connection, timeout: float = 300) -> None:
    """Waits until every transaction that began before now has ended, so every committed change is below the
    read bound the next run takes (min_active_rowversion() is cluster-wide in the emulator, as xids are)."""
    mark = aspire.execute("select pg_current_xact_id()::text::bigint - dbo.rowversion_offset()").fetchone()[0]
    deadline = time.monotonic() + timeout
    while aspire.execute("select min_active_rowversion()").fetchone()[0] <= mark:
        if time.monotonic() > deadline:
            pytest.fail("a transaction open elsewhere on the test server holds min_active_rowversion() back")
        time.sleep(0.1)


def run_dag(dagbag, dag_id: str = INCREMENTAL_DAG_ID, conf: dict | None = None, expect: str = "success"):
    if dag_id == INCREMENTAL_DAG_ID:
        # dag.test() runs tasks in this process, where Airflow updates each task's params with the run's conf in
        # place: a later run without conf would inherit it. A scheduled run starts from the defaults; say them.
        conf = {"entities": [], "customer_ids": [], "allow_mass_removal": False, **(conf or {})}
    elif dag_id == DAILY_DAG_ID:
        conf = {"allow_mass_removal": False, "rebaseline": False, **(conf or {})}
    run = dagbag.get_dag(dag_id).test(run_conf=conf)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == expect, f"{dag_id} run {run.run_id} ended {run.state}: {states}"
    return run


def task_states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances() if ti.map_index < 0}


def watermarks(portal: psycopg.Connection) -> dict[str, int]:
    return dict(portal.execute("select entity, high_water_mark from aspire_sync.watermark").fetchall())


def loads(portal: psycopg.Connection, run_id: str, *, scope_only: bool = False) -> dict[str, dict]:
    """The run log of one run, by entity; with `scope_only`, the daily entities' scope-change loads too."""
    with portal.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute(
            "select * from aspire_sync.run_log where run_id = %s order by run_log_id", (run_id,)
        ).fetchall()
    return {row["entity"]: row for row in rows if scope_only or row["load_kind"] != "scope"}


FROM = "aspire-portal@example.com"


TO = ["oncall@example.com", "dba@example.com"]


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def take(self) -> list[email.message.EmailMessage]:
        taken, self.messages = self.messages, []
        return taken


def body(message: email.message.EmailMessage) -> str:
    """The text a person reads: the HTML part the notifier sends, without its markup."""
    part = message.get_body(preferencelist=("html", "plain"))
    return html.unescape(re.sub(r"<[^>]+>", "", part.get_content()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SYNC, READER = "aspire_portal_sync", "aspire_portal_reader"
# The sync role's password, one for every test: the role is the server's, and tests on other workers log in as it
# at the same time.
SYNC_PASSWORD = "sync-Pw-4e1d"


def set_password(role: str, password: str) -> None:
    """ALTER ROLE ... PASSWORD, as a DBA sets a login's password (the server hashes it: scram-sha-256 here)."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(role), sql.Literal(password)))


def drop_roles_created_here(roles: set[str], *databases: str) -> None:
    """Roles are the server's, not the database's: drops those this module created, once nothing of them is left
    in its databases; a role another database on the server uses by now stays (dropping it would fail anyway)."""
    for dsn in databases:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for role in sorted(roles):
                conn.execute(f"drop owned by {role}")
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        for role in sorted(roles):
            try:
                admin.execute(f"drop role if exists {role}")
            except psycopg.errors.DependentObjectsStillExist:
                pass


def rest_call(
    url: str, method: str, path: str, body: dict | None = None, headers: dict | None = None
) -> tuple[int, dict]:
    """One JSON call to Airflow's REST API at `url`: its status and body, an error's included."""
    request = urllib.request.Request(
        url + path,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
        data=json.dumps(body).encode() if body is not None else None,
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
