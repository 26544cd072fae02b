"""Shared fixtures: real PostgreSQL databases for the ASPIRE emulator and the portal.

AIRFLOW_HOME must point at a throw-away folder before anything imports airflow, so it is set here, at the
top of the first module pytest imports.
"""

from __future__ import annotations

import os
import tempfile

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="aspire-portal-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["ASPIRE_PORTAL_TEMPLATE_CACHE"] = os.path.join(_AIRFLOW_HOME, "template-cache")  # removed with it
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
# The test portals hold a dozen customers, where one customer's exit is a fifth of a table: the mass-removal guard's
# floor is raised for the DAG runs of the suite, and the guard's own tests set it back (tests/test_never_a_leak.py).
os.environ.setdefault("AIRFLOW_VAR_ASPIRE_PORTAL_MASS_REMOVAL_FLOOR", "1000000")
os.environ.setdefault("AIRFLOW_VAR_ASPIRE_PORTAL_MASS_REMOVAL_FLOOR_SCOPE", "1000000")

import psycopg  # noqa: E402
import pytest  # noqa: E402
from psycopg import sql  # noqa: E402

ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
# One prefix per test session (process id and a random part: containers sharing a server repeat process ids), so
# two sessions on one server never share or drop each other's databases; the session drops every database of its
# prefix when it ends.
DB_PREFIX = os.environ.get("TEST_DB_PREFIX", f"aspire_portal_test_{os.getpid()}_{os.urandom(3).hex()}")


def database_dsn(name: str) -> str:
    """The DSN of database `name` on the test server."""
    info = psycopg.conninfo.conninfo_to_dict(ADMIN_DSN)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def recreate_database(name: str) -> str:
    """Drop and create an empty database on the test server; returns its DSN."""
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


@pytest.fixture(scope="session", autouse=True)
def _clean_up_when_done():
    """When the session ends: drops the databases it created (every name with this session's prefix) and removes
    its throw-away folders (AIRFLOW_HOME; pytest's tmp_path folders are pytest's)."""
    yield
    import shutil

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute("select datname from pg_database where starts_with(datname, %s)", (f"{DB_PREFIX}_",))
        ]
        for name in names:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def fresh_database():
    """Factory: a new empty database named `<prefix>_<suffix>` (dropped and re-created)."""
    return lambda suffix: recreate_database(f"{DB_PREFIX}_{suffix}")


# ---- Airflow ----------------------------------------------------------------------------------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")


def use_connections(aspire_dsn: str, portal_dsn: str) -> None:
    """Points the Airflow connections `aspire` and `portal` at the given databases, the standard way."""
    from aspire_emulator.dsn import conninfo_to_uri

    os.environ["AIRFLOW_CONN_ASPIRE"] = conninfo_to_uri(aspire_dsn)
    os.environ["AIRFLOW_CONN_PORTAL"] = conninfo_to_uri(portal_dsn)


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated Airflow metadata database (SQLite in the throw-away AIRFLOW_HOME), for dag.test()."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


@pytest.fixture(scope="session")
def aspire_small(fresh_database):
    """A small ASPIRE emulator, seeded once per session. Tests must not change it: those that simulate
    activity make their own with `make_aspire`."""
    from aspire_emulator import generate

    dsn = fresh_database("aspire_small")
    generate.create(dsn, size="small", seed=42)
    return dsn


@pytest.fixture
def portal_database(fresh_database):
    """An empty portal database with the portal application's schema (users and account links)."""
    from aspire_emulator.portal import create_portal_schema

    dsn = fresh_database("emulator_portal")
    create_portal_schema(dsn)
    return dsn


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
