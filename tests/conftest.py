"""Shared fixtures: real PostgreSQL databases for the ASPIRE emulator and the portal.

AIRFLOW_HOME must point at a throw-away folder before anything imports airflow, so it is set here, at the
top of the first module pytest imports.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

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

import helpers  # noqa: E402
from helpers import ADMIN_DSN, DB_PREFIX, REPO, recreate_database  # noqa: E402


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stops the run at once, with libpq's reason, when the test server (TEST_PG_DSN) refuses a connection: else
    every test fails on its own, those running DAGs only after their tasks' retries. Unit tests need no server."""
    config = session.config
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: its controller has checked
        return
    unit = REPO / "tests" / "unit"
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    if config.option.markexpr == "unit" or all(path.is_relative_to(unit) for path in paths):
        return
    refused = helpers.check_server()
    if refused:
        pytest.exit(refused, returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session", autouse=True)
def _clean_up_when_done():
    """When the session ends: drops the databases it created (every name with this session's prefix) and removes
    its throw-away folders (AIRFLOW_HOME; pytest's tmp_path folders are pytest's)."""
    yield
    import shutil

    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)
    if not helpers.CREATED:  # unit tests only: no server was used
        return
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute("select datname from pg_database where starts_with(datname, %s)", (f"{DB_PREFIX}_",))
        ]
        for name in names:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


E2E_FILES = {"test_demo.py", "test_live_stack.py", "test_readme.py", "test_secrets.py", "test_trigger_forms.py"}
MODEL_FILE = "test_stateful_sync.py"

# The files that take longest (seconds on 2 cores, test processes side by side), handed out first so no worker is
# left running one of them alone at the end; the rest follow, most tests first. Kept roughly right by hand: a file
# missing here only lengthens the run.
LONGEST_FILES = (
    "test_live_stack.py",  # ~260
    "test_stateful_sync.py",  # ~220
    "test_readme.py",  # ~110
    "test_never_a_leak.py",
    "test_incremental.py",
    "test_scope.py",
    "test_alerts.py",
    "test_aspire_timeline.py",
    "test_demo.py",
    "test_secrets.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks each test by kind: unit (tests/unit: no PostgreSQL), e2e (a live stack, the README's blocks, the demo),
    dags (runs DAGs with dag.test()), model (the model-based search: minutes even when seeded), integration (the
    rest: the engine on real PostgreSQL databases). Then orders the files: LONGEST_FILES first, the rest most tests
    first (the order test processes are handed them in)."""
    kinds = {"unit", "integration", "dags", "e2e", "model"}
    for item in items:
        path = item.path
        if kinds & {mark.name for mark in item.iter_markers()}:
            continue  # the test says what it needs
        if path.parent.name == "unit":
            item.add_marker(pytest.mark.unit)
        elif path.name in E2E_FILES:
            item.add_marker(pytest.mark.e2e)
        elif path.name == MODEL_FILE:
            item.add_marker(pytest.mark.model)
        elif {"dagbag", "dags", "airflow_db"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.dags)
        else:
            item.add_marker(pytest.mark.integration)
    tests_in = Counter(item.path for item in items)
    rank = {name: place for place, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: (rank.get(item.path.name, len(rank)), -tests_in[item.path], str(item.path)))


@pytest.fixture(scope="session")
def fresh_database():
    """Factory: a new empty database named `<prefix>_<suffix>` (dropped and re-created)."""
    return lambda suffix: recreate_database(f"{DB_PREFIX}_{suffix}")


# ---- Airflow ----------------------------------------------------------------------------------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402

os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")


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
