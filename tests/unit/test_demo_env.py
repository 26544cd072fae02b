"""The file `make demo` writes for a shell to source never holds a password: when either connection carries one,
neither is written (the caller's shell has them already); without one, both are, with psql's defaults."""

from __future__ import annotations

import os
import warnings

# the demo script silences warnings for its own process when imported: not for the rest of this test process
with warnings.catch_warnings():
    _warnings_before = os.environ.get("PYTHONWARNINGS")
    from scripts import demo

    if _warnings_before is None:
        os.environ.pop("PYTHONWARNINGS", None)

AIRFLOW = {"AIRFLOW_HOME": "/tmp/demo-airflow"}


def test_a_password_on_either_connection_keeps_both_out_of_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_ASPIRE", "postgresql://sync:Pw-secret@db/aspire")
    monkeypatch.setenv("AIRFLOW_CONN_PORTAL", "postgresql://sync@db/portal")
    shell = demo.shell_env(
        AIRFLOW, "host=db user=sync password=Pw-secret dbname=aspire", "host=db user=sync dbname=portal"
    )
    assert "AIRFLOW_CONN_ASPIRE" not in shell and "AIRFLOW_CONN_PORTAL" not in shell
    written = demo.write_shell_env(tmp_path / "env.sh", shell).read_text()
    assert "Pw-secret" not in written and "export PGDATABASE=portal" in written


def test_without_passwords_both_connections_are_written(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_ASPIRE", "postgresql://postgres@%2Ftmp%2Fpg/aspire_demo")
    monkeypatch.setenv("AIRFLOW_CONN_PORTAL", "postgresql://postgres@%2Ftmp%2Fpg/portal_demo")
    shell = demo.shell_env(
        AIRFLOW, "host=/tmp/pg user=postgres dbname=aspire_demo", "host=/tmp/pg user=postgres dbname=portal_demo"
    )
    written = demo.write_shell_env(tmp_path / "env.sh", shell).read_text()
    assert "export AIRFLOW_CONN_ASPIRE=postgresql://postgres@%2Ftmp%2Fpg/aspire_demo" in written
    assert "export AIRFLOW_HOME=/tmp/demo-airflow" in written and "export PGHOST=/tmp/pg" in written
    assert written.rstrip().endswith(':"$PATH"')
