"""The documentation's "Before the first run" blocks and trigger examples (docs/deployment.md) and the runbook's block
(docs/operations.md), run as a new operator pastes them: in order, in one bash, from the repository's root, against
the server TEST_PG_DSN names (its host, port, user and password in the blocks' first lines, as the reader sets them)
and a live Airflow api-server. Only the database names, AIRFLOW_HOME and the port are this test's own (the server
may be shared)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import psycopg
import pytest

from helpers import (
    ADMIN_DSN,
    DB_PREFIX,
    READER,
    REPO,
    SYNC,
    SYNC_PASSWORD,
    as_role,
    database_dsn,
    drop_roles_created_here,
    server_environment,
)

pytestmark = [pytest.mark.timeout(900), pytest.mark.passwords]

BLOCK = re.compile(r"<!-- readme-test: (\w+) -->\n```bash\n(.*?)```", re.S)
CUSTOMER = 1000467  # the first customer block 1 enrolls


def readme_blocks() -> dict[str, str]:
    """The named blocks of the README and of every page under docs/, in a fixed order: the README, then the pages
    by path."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    return dict(BLOCK.findall("\n".join(page.read_text() for page in pages)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# What block 1's first lines say, and what this test says instead: the test server, as TEST_PG_DSN names it.
SERVER = server_environment()
SETTINGS = {
    "PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres": " ".join(
        f"{name}={shlex.quote(SERVER[name])}" for name in ("PGHOST", "PGPORT", "PGUSER") if name in SERVER
    ),
    "PGPASSWORD='postgres-password'": f"PGPASSWORD={shlex.quote(SERVER.get('PGPASSWORD', ''))}",
    "SYNC_PASSWORD='choose-a-password'": f"SYNC_PASSWORD={shlex.quote(SYNC_PASSWORD)}",
}


def outsider_env() -> dict[str, str]:
    """A shell as a new operator has it: none of this test session's Airflow settings, no libpq settings but those
    of TEST_PG_DSN the blocks do not name (sslmode, ...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PG"))}
    return {**env, **{k: v for k, v in SERVER.items() if k not in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD")}}


def bash(script: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        start_new_session=True,
    )  # no tty: psql
    if check:
        assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


def cli_json(output: str):
    """The JSON an airflow command printed with `-o json` (after any warnings it logged to stdout)."""
    start = re.search(r"^[\[{]", output, re.M)
    assert start, output[-2000:]
    return json.JSONDecoder().raw_decode(output[start.start() :])[0]


def http(method: str, url: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body else None,
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except urllib.error.URLError:  # not listening yet
        return 0, {}


def test_the_readme_commands_work_verbatim(tmp_path):
    blocks = readme_blocks()
    assert list(blocks) == ["databases", "roles", "airflow", "trigger", "runbook"]
    port = free_port()
    own = {
        "aspire_quickstart": f"{DB_PREFIX}_qs_aspire",
        "portal_quickstart": f"{DB_PREFIX}_qs_portal",
        '"$PWD/.airflow"': f'"{tmp_path}/airflow"',
        "http://localhost:8080": f"http://127.0.0.1:{port}",
        **SETTINGS,
    }
    pasted = "\n".join(blocks.values())
    assert [theirs for theirs in own if theirs not in pasted] == []  # else the blocks would run on another server

    def ours(text: str) -> str:
        for theirs, mine in own.items():
            text = text.replace(theirs, mine)
        return text

    with psycopg.connect(ADMIN_DSN) as admin:
        existed = {
            r[0] for r in admin.execute("select rolname from pg_roles where rolname in (%s, %s)", (SYNC, READER))
        }
    env_file = tmp_path / "env.json"
    setup = "\n".join(ours(blocks[name]) for name in ("databases", "roles", "airflow"))
    done = bash(
        setup + f"\npython -c 'import json, os; print(json.dumps(dict(os.environ)))' > {env_file}\n",
        outsider_env(),
    )
    assert "enrolled: 1000467 1000519 1000183" in done.stdout
    env = json.loads(env_file.read_text())
    portal_dsn = database_dsn(own["portal_quickstart"])
    server = None
    try:
        # 3's last line was a real full sync of the customer, as aspire_portal_sync, through the connections.
        with psycopg.connect(portal_dsn) as portal:
            assert portal.execute(
                "select count(*) from aspire.account where account_oid = %s", (CUSTOMER,)
            ).fetchone() == (1,)
            assert (
                portal.execute(
                    "select count(*) from aspire.cash_receipt where account_oid = %s", (CUSTOMER,)
                ).fetchone()[0]
                > 0
            )
            assert portal.execute(
                "select full_sync_completed_at is not null from aspire_sync.customer_sync_status "
                "where account_oid = %s",
                (CUSTOMER,),
            ).fetchone() == (True,)
            assert portal.execute(
                "select distinct tableowner from pg_tables where schemaname in ('aspire', 'aspire_sync')"
            ).fetchall() == [(SYNC,)]
            assert portal.execute(
                "select rolpassword is not null from pg_authid where rolname = %s", (SYNC,)
            ).fetchone() == (True,)
        with psycopg.connect(as_role(portal_dsn, SYNC, SYNC_PASSWORD)) as sync:
            assert sync.execute("select current_user").fetchone() == (SYNC,)
        # Block 2 again in a shell without SYNC_PASSWORD: it stops, saying so, and the role keeps its password.
        unset = bash(ours(blocks["roles"]), {k: v for k, v in env.items() if k != "SYNC_PASSWORD"}, check=False)
        assert unset.returncode != 0 and "set SYNC_PASSWORD first" in unset.stderr, unset.stderr
        with psycopg.connect(portal_dsn) as portal:
            assert portal.execute(
                "select rolpassword is not null from pg_authid where rolname = %s", (SYNC,)
            ).fetchone() == (True,)
        with psycopg.connect(as_role(portal_dsn, SYNC, SYNC_PASSWORD)) as sync:
            assert sync.execute("select current_user").fetchone() == (SYNC,)
        dags = cli_json(bash("airflow dags list -o json", env).stdout)
        assert {d["dag_id"]: str(d["is_paused"]) for d in dags} == {  # the CLI prints the flag as text
            "aspire_portal_incremental": "False",
            "aspire_portal_daily_refresh": "False",
            "aspire_portal_customer_full_sync": "False",
            "aspire_portal_freshness_check": "False",
            "aspire_portal_explain": "False",
        }
        assert cli_json(bash("airflow pools get aspire_source -o json", env).stdout)[0]["slots"] in (4, "4")
        for variable, value in [
            ("aspire_portal_max_full_sync_triggers_per_run", "25"),
            ("aspire_portal_alert_to", "oncall@example.com"),
            ("aspire_portal_staleness_threshold_minutes", "45"),
            ("aspire_portal_stale_realert_minutes", "60"),
        ]:
            assert bash(f"airflow variables get {variable}", env).stdout.strip().splitlines()[-1] == value
        [smtp] = cli_json(bash("airflow connections get smtp_default -o json", env).stdout)
        assert (smtp["conn_type"], smtp["host"], str(smtp["port"])) == ("smtp", "127.0.0.1", "8025")
        assert smtp["extra_dejson"]["from_email"] == "aspire-portal@example.com"

        # 4: the api-server (what `airflow standalone` runs for the UI and the API), then the trigger examples.
        log = (tmp_path / "api-server.log").open("w")
        server = subprocess.Popen(
            ["airflow", "api-server", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while http("GET", f"http://127.0.0.1:{port}/api/v2/monitor/health")[0] != 200:
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "api-server.log").read_text()
            time.sleep(2)
        bash(ours(blocks["trigger"]), env)
        password = json.loads((tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())
        _status, token = http(
            "POST", f"http://127.0.0.1:{port}/auth/token", body={"username": "admin", "password": password["admin"]}
        )
        url = f"http://127.0.0.1:{port}/api/v2/dags/aspire_portal_customer_full_sync/dagRuns"

        def confs() -> list[dict]:
            return [run["conf"] for run in http("GET", url, token["access_token"])[1]["dag_runs"]]

        assert {"customer_id": 1000519} in confs() and {"customer_id": 1000183} in confs()  # REST, then CLI
        before = confs()
        # An out-of-range id is refused by the API before a run exists.
        status, answer = http(
            "POST", url, token["access_token"], {"logical_date": None, "conf": {"customer_id": 10**30}}
        )
        assert status == 400, (status, answer)
        assert "greater than the maximum of 9223372036854775807" in json.dumps(answer)
        assert confs() == before

        out = bash(ours(blocks["runbook"]), env).stdout
        assert str(CUSTOMER) in out and "(0 rows)" in out  # its status row; an empty quarantine
        assert f"customer {CUSTOMER}: in_portal" in out  # explain, through the Airflow connections
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        drop_roles_created_here({SYNC, READER} - existed, portal_dsn)
