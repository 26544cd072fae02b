"""`make demo` with its embedded PostgreSQL, as a newcomer runs it: no asset warnings (the portal tables' Assets are
registered, active, when the DAGs are parsed), the commands it prints running as printed in a new shell that sources
the file it names, a last line that says how to stop the server it leaves running, and `scripts/demo.py --down` (what
`make demo-down` runs) stopping it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from helpers import REPO

pytestmark = pytest.mark.timeout(600)


def test_the_demo_is_quiet_and_says_how_to_stop_the_server_it_leaves_running(tmp_path):
    # The data folder of this test's own server (not the checkout's): lower case and short, as a socket folder must
    # be; not under tmp_path, which the server's own user (pgserver, when root runs it) may not enter.
    pgdata = Path(tempfile.gettempdir()) / f"aspire-portal-demo-test-{os.getpid()}"
    # as a newcomer's shell has it: no connections, no Variables (the suite sets some), no Airflow home
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW_HOME"))}
    env["ASPIRE_PORTAL_DEMO_HOME"] = str(tmp_path)

    def demo(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "scripts/demo.py", "--pgdata", str(pgdata), *args]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=540)

    try:
        done = demo("--customers", "2", "--events", "60")
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-3000:]
        # no warning a newcomer must learn to ignore (the AssetModel ones were a hundred; an unset Variable's
        # default once logged the secrets masker's "too short" in every task)
        warnings = [line for line in output.splitlines() if "[warning" in line or "Warning:" in line]
        assert not warnings, warnings[:5]
        last = done.stdout.splitlines()[-1]
        # a folder of its own, so the command names it (for the checkout's folder it is `make demo-down`)
        assert last.endswith(f"stop it with: python scripts/demo.py --down --pgdata {pgdata}"), last
        server = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
        assert server.is_running()

        # the commands it prints run, as printed, in a new shell that sources the file it names
        env_file = tmp_path / "env.sh"
        assert f"yourself: source {env_file}" in done.stdout
        assert f"Support commands, as they run after `source {env_file}`" in done.stdout
        assert "$ python -m aspire_portal status\naspire_portal status at" in done.stdout
        shell = subprocess.run(
            [
                "bash",
                "-c",
                f"source {env_file} && python -m aspire_portal status && "
                'psql -tAc "select count(*) from aspire.contract" && airflow dags list -o plain',
            ],
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert shell.returncode == 0, shell.stdout[-2000:] + shell.stderr[-2000:]
        lines = shell.stdout.splitlines()
        assert lines[0].startswith("aspire_portal status at ") and lines[0].endswith(": ok"), lines[:3]
        contracts = next(line for line in lines if line.isdigit())
        assert int(contracts) > 0
        assert "aspire_portal_incremental" in shell.stdout and "aspire_portal_daily_refresh" in shell.stdout

        down = demo("--down")
        assert down.returncode == 0 and f"Stopped the embedded PostgreSQL (pid {server.pid})" in down.stdout, down
        assert not server.is_running()
        again = demo("--down")
        assert again.returncode == 0 and "nothing to stop" in again.stdout
    finally:
        demo("--down")
        shutil.rmtree(pgdata, ignore_errors=True)
