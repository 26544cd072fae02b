"""No secret printed anywhere: `make demo` run with connections that carry a password prints them masked,
and the password reaches neither its output (task logs included), nor the files it writes, nor aspire_sync."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from aspire_emulator.dsn import conninfo_to_uri, masked
from helpers import REPO, database_dsn

pytestmark = pytest.mark.timeout(600)

PASSWORD = "Pw-7f3a9c-never-print-me"  # the server trusts local logins: the password is carried, never checked


def with_password(dsn: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return conninfo_to_uri(psycopg.conninfo.make_conninfo(**info, password=PASSWORD))


def test_masked_hides_the_password_of_uris_and_conninfos():
    assert masked("postgresql://sync:s3cret@db:5432/portal") == "postgresql://sync:****@db:5432/portal"
    assert masked("postgresql://sync@db/portal") == "postgresql://sync@db/portal"
    assert "s3cret" not in masked("host=db user=sync password=s3cret dbname=portal")
    assert "s3cret" not in masked("postgresql://sync@db/portal?password=s3cret&sslmode=require")
    assert "sslmode=require" in masked("postgresql://sync@db/portal?password=s3cret&sslmode=require")
    as_json = masked('{"conn_type": "postgres", "login": "sync", "password": "s3cret", "host": "db"}')
    assert "s3cret" not in as_json and '"login": "sync"' in as_json
    assert "s3cret" not in masked("host=db password=s3cret dbname='unterminated")


def test_the_demo_with_password_connections_prints_no_password(fresh_database, tmp_path):
    aspire, portal = fresh_database("secrets_aspire"), fresh_database("secrets_portal")
    env = {
        **os.environ,
        "AIRFLOW_CONN_ASPIRE": with_password(aspire),
        "AIRFLOW_CONN_PORTAL": with_password(portal),
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
