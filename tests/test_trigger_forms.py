"""The id fields of the trigger forms, in a real browser against a live api-server: what is not an id is refused,
quoted as typed, and starts no run; an id starts a run with that id. The REST API refuses the same values, quoting
what was sent.

A live `airflow api-server` of its own (SQLite metadata database in a throw-away AIRFLOW_HOME, the DAGs parsed into
it with `airflow dags reserialize`, every user an admin: the simple auth manager's `all_admins`, so neither the
browser nor the REST calls log in). No scheduler: a triggered run stays queued, which is all these tests look at.
The browser is Debian's chromium (/usr/bin/chromium, which `make test` installs when missing) driven by playwright.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import REPO, free_port, rest_call

pytestmark = pytest.mark.timeout(600)

CHROMIUM = Path("/usr/bin/chromium")
ID_FIELDS = {
    "aspire_portal_customer_full_sync": "customer_id",
    "aspire_portal_incremental": "customer_ids",
    "aspire_portal_explain": "id",
}
BAD_TEXT = ["-5", "0", "1.5", "abc", str(10**30)]


class Api:
    """The api-server's REST API (no login: every request is an admin's)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        return rest_call(self.url, method, path, body)

    def trigger(self, dag_id: str, conf: dict) -> tuple[int, dict]:
        return self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})

    def runs(self, dag_id: str) -> list[dict]:
        status, body = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")
        assert status == 200, body
        return body["dag_runs"]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-forms")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__WORKERS": "1",
    }
    airflow = [sys.executable, "-m", "airflow"]
    for step in (["db", "migrate"], ["dags", "reserialize"]):
        done = subprocess.run([*airflow, *step], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"`airflow {' '.join(step)}` failed:\n{done.stderr[-3000:]}"
    port = free_port()
    log = home / "api-server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*airflow, "api-server", "--port", str(port), "--host", "127.0.0.1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its workers in its process group, stopped with it
        )
    client = Api(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 180
        while not _answers(client):
            assert server.poll() is None, f"the api-server exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the api-server did not answer in 180 s:\n{log.read_text()[-3000:]}"
            time.sleep(1)
        assert {d["dag_id"] for d in client.call("GET", "/api/v2/dags")[1]["dags"]} >= set(ID_FIELDS)
        yield client
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def _answers(client: Api) -> bool:
    try:
        return client.call("GET", "/api/v2/monitor/health")[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM} (`apt-get install -y chromium`; `make test` installs it)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI must run the browser test: {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    yield context.new_page()
    context.close()


def type_in_the_form(page, api: Api, dag_id: str, text: str):
    """Opens the DAG's trigger form, types `text` in its id field, leaves the field, clicks Trigger; returns the
    form (the dialog)."""
    from playwright.sync_api import expect

    page.goto(f"{api.url}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger Dag", exact=True).click()
    form = page.get_by_role("dialog")
    field = form.locator(f"[name=element_{ID_FIELDS[dag_id]}]")
    expect(field).to_have_value("")  # no id is offered
    field.fill(text)
    field.blur()
    expect(field).to_have_value(text)  # what was typed stays what was typed
    form.get_by_role("button", name="Trigger", exact=True).click()
    return form


@pytest.mark.parametrize("dag_id", sorted(ID_FIELDS))
def test_the_form_refuses_what_is_not_an_id_quoting_it_and_starts_no_run(api, page, dag_id):
    from playwright.sync_api import expect

    name = ID_FIELDS[dag_id]
    before = api.runs(dag_id)
    for text in BAD_TEXT:
        form = type_in_the_form(page, api, dag_id, text)
        expect(form).to_contain_text(f"Invalid input for param {name}: '{text}' does not match")
        assert api.runs(dag_id) == before, f"{text!r} typed in {dag_id}'s form started a run"


@pytest.mark.parametrize("dag_id", sorted(ID_FIELDS))
def test_the_form_starts_a_run_with_the_id_typed(api, page, dag_id):
    from playwright.sync_api import expect

    name = ID_FIELDS[dag_id]
    before = {run["dag_run_id"] for run in api.runs(dag_id)}
    form = type_in_the_form(page, api, dag_id, "1000467")
    expect(form).to_be_hidden()  # the form closes once the run exists
    new = [run for run in api.runs(dag_id) if run["dag_run_id"] not in before]
    assert len(new) == 1, new
    assert new[0]["conf"][name] == (["1000467"] if name == "customer_ids" else "1000467")


@pytest.mark.parametrize("dag_id", sorted(ID_FIELDS))
def test_the_rest_api_refuses_what_is_not_an_id_quoting_what_was_sent(api, dag_id):
    name = ID_FIELDS[dag_id]
    before = api.runs(dag_id)
    for sent in [*BAD_TEXT, -5, 0, 1.5, 10**30, None]:
        status, body = api.trigger(dag_id, {name: [sent] if name == "customer_ids" else sent})
        assert status == 400, (sent, status, body)
        assert body["detail"].startswith(f"Invalid input for param {name}: {sent!r} "), (sent, body)
    assert api.runs(dag_id) == before


@pytest.mark.parametrize("dag_id", sorted(ID_FIELDS))
def test_the_rest_api_takes_an_id_as_an_integer_or_as_text(api, dag_id):
    name = ID_FIELDS[dag_id]
    for sent in (42, "42"):
        conf = {name: [sent] if name == "customer_ids" else sent}
        status, body = api.trigger(dag_id, conf)
        assert status == 200, (sent, status, body)
        assert body["conf"][name] == conf[name]
        assert body["dag_run_id"] in {run["dag_run_id"] for run in api.runs(dag_id)}
