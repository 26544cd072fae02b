"""No secret printed anywhere: `make demo` run with connections that carry a password prints them masked,
and the password reaches neither its output (task logs included), nor the files it writes, nor aspire_sync."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from psycopg import sql

from aspire_emulator.dsn import conninfo_to_uri, masked
from helpers import ADMIN_DSN, DB_PREFIX, REPO, as_role, database_dsn, set_password

pytestmark = [pytest.mark.timeout(600), pytest.mark.passwords]

# A login of this test's own, with a password nothing else prints by chance; the server checks it when it checks
# passwords at all (TEST_PG_DSN's own password is the suite's, and may be too short to search for).
PASSWORD = "Pw-7f3a9c-never-print-me"


@pytest.fixture
def demo_login(fresh_database):
    """The two databases the demo overwrites, owned by a login of their own: (aspire DSN, portal DSN) as that
    login, with its password."""
    role = f"{DB_PREFIX}_demo"
    names = [
        psycopg.conninfo.conninfo_to_dict(fresh_database(suffix))["dbname"]
        for suffix in ("secrets_aspire", "secrets_portal")
    ]
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("create role {} login").format(sql.Identifier(role)))
        set_password(role, PASSWORD)
        for name in names:
            admin.execute(sql.SQL("alter database {} owner to {}").format(sql.Identifier(name), sql.Identifier(role)))
    try:
        yield tuple(as_role(database_dsn(name), role, PASSWORD) for name in names)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            for name in names:  # what the login owns inside them goes with them
                admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def test_masked_hides_the_password_of_uris_and_conninfos():
    assert masked("postgresql://sync:s3cret@db:5432/portal") == "postgresql://sync:****@db:5432/portal"
    assert masked("postgresql://sync@db/portal") == "postgresql://sync@db/portal"
    assert "s3cret" not in masked("host=db user=sync password=s3cret dbname=portal")
    assert "s3cret" not in masked("postgresql://sync@db/portal?password=s3cret&sslmode=require")
    assert "sslmode=require" in masked("postgresql://sync@db/portal?password=s3cret&sslmode=require")
    as_json = masked('{"conn_type": "postgres", "login": "sync", "password": "s3cret", "host": "db"}')
    assert "s3cret" not in as_json and '"login": "sync"' in as_json
    assert "s3cret" not in masked("host=db password=s3cret dbname='unterminated")


def test_the_demo_with_password_connections_prints_no_password(demo_login, tmp_path):
    aspire, portal = demo_login
    env = {
        **os.environ,
        "AIRFLOW_CONN_ASPIRE": conninfo_to_uri(aspire),
        "AIRFLOW_CONN_PORTAL": conninfo_to_uri(portal),
        "ASPIRE_PORTAL_DEMO_HOME": str(tmp_path),
    }
    env.pop("AIRFLOW_HOME", None)
    done = subprocess.run(
        [sys.executable, "scripts/demo.py", "--customers", "2", "--events", "60", "--verbose"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Demo done" in done.stdout and ":****@" in done.stdout
    assert PASSWORD not in output
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.suffix == ".db" for path in written)  # the Airflow metadata database, task logs if any
    assert [path for path in written if PASSWORD.encode() in path.read_bytes()] == []
    with psycopg.connect(database_dsn(psycopg.conninfo.conninfo_to_dict(portal)["dbname"])) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "select format('%I.%I', schemaname, tablename) from pg_tables where schemaname = 'aspire_sync'"
            )
        ]
        assert tables
        for table in tables:
            assert not conn.execute(
                f"select exists (select 1 from {table} as t where t::text like %s)", (f"%{PASSWORD}%",)
            ).fetchone()[0], table
