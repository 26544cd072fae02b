"""Alerts: a failed task and a stale portal each deliver a real e-mail through the SMTP provider's
notifier to an SMTP server this module starts on 127.0.0.1 (aiosmtpd), and the tests read what arrived.

Failures are real task failures in runs of the real DAGs (dag.test()); staleness is checked by the real
`aspire_portal_freshness_check` DAG on watermarks a real incremental run wrote, aged in the portal database as if the
incremental had not moved since. The DAGs come from a DagBag of this module's own, so the params these runs set do not
reach other modules' runs (dag.test() updates a task's params in place).
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, freshness, migrations, settings
from aspire_portal.mail import Alert, deliver
from helpers import FROM, REPO, TO, Inbox, as_role, body, database_dsn, free_port, use_connections

FULL_SYNC = "aspire_portal_customer_full_sync"
INCREMENTAL = "aspire_portal_incremental"
FRESHNESS = "aspire_portal_freshness_check"
FIFTEEN = [e.name for e in catalogue.entities("15min")]


# ---- a real SMTP server ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@pytest.fixture
def mail(smtp_server, monkeypatch):
    """The connection smtp_default and the recipients Variable, set the standard way (environment), pointing at the
    module's SMTP server; yields its inbox, emptied."""
    inbox, port = smtp_server
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {
                    "from_email": FROM,
                    "disable_ssl": True,
                    "disable_tls": True,
                    "timeout": 10,
                    "retry_limit": 0,
                },
            }
        ),
    )
    monkeypatch.setenv("AIRFLOW_VAR_ASPIRE_PORTAL_ALERT_TO", ", ".join(TO))
    inbox.take()
    yield inbox


@pytest.fixture
def no_mail(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_ASPIRE_PORTAL_ALERT_TO", raising=False)


# ---- the portal and the DAGs -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


@pytest.fixture(scope="module")
def world(fresh_database, aspire_small):
    portal_dsn = fresh_database("alerts_portal")
    portal_app.create_portal_schema(portal_dsn)
    enrolled = portal_app.enroll(portal_dsn, aspire_small, count=3, seed=11)
    use_connections(aspire_small, portal_dsn)
    with (
        psycopg.connect(aspire_small, autocommit=True) as aspire,
        psycopg.connect(portal_dsn, autocommit=True) as portal,
    ):
        unenrolled = aspire.execute(
            "select customeraccountoid from dbo.contract where isbooked = 1 and customeraccountoid <> all(%s) "
            "order by 1 limit 1",
            (enrolled,),
        ).fetchone()[0]
        unknown = aspire.execute("select max(accountoid) + 1000 from dbo.account").fetchone()[0]
        migrations.migrate(portal)  # as every DAG's first task does: a test may run before any DAG has
        yield portal, unenrolled, unknown


@pytest.fixture(autouse=True)
def _connections(world, aspire_small):
    portal, _unenrolled, _unknown = world
    use_connections(aspire_small, database_dsn(portal.info.dbname))  # conn.info.dsn has no password


def run(dags, dag_id: str, conf: dict | None = None, expect: str = "success", **kwargs):
    if dag_id == INCREMENTAL:  # a scheduled run's defaults, said (see tests/test_incremental.py)
        conf = {"entities": [], "customer_ids": [], **(conf or {})}
    dag_run = dags.get_dag(dag_id).test(run_conf=conf, **kwargs)
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == expect, f"{dag_id} run {dag_run.run_id} ended {dag_run.state}: {states}"
    return dag_run


# ---- failures ----------------------------------------------------------------------------------------------------


def test_a_failed_task_delivers_one_mail_naming_the_dag_task_and_customer_and_what_to_do(dags, world, mail):
    _portal, _unenrolled, unknown = world
    dag_run = run(dags, FULL_SYNC, {"customer_id": unknown}, expect="failed")
    assert dag_run.get_task_instance("validate_customer").state == "failed"

    # One mail: the task's. The DAG's own callback ran too (dag.test runs it inline) and left the run, failed by
    # that task, to the task's mail.
    [message] = mail.take()
    assert message["Subject"] == (f"[aspire-portal] {FULL_SYNC}: validate_customer failed for customer {unknown}")
    assert message["From"] == FROM
    assert message["To"] == ", ".join(TO) and message["X-Envelope-To"] == ", ".join(TO)
    text = body(message)
    assert f"Task validate_customer of DAG {FULL_SYNC} failed for good, at try 1 (an error a retry cannot fix" in text
    assert f"customer_id {unknown} is not an ASPIRE account" in text  # the error itself
    assert f"/dags/{FULL_SYNC}/runs/" in text and "/tasks/validate_customer" in text  # the log
    assert "What to do:" in text
    assert f"airflow dags trigger {FULL_SYNC} --conf '{{\"customer_id\": {unknown}}}'" in text


def test_a_refused_login_fails_its_task_at_once_and_mails_the_servers_words(dags, world, mail, aspire_small):
    """A login the server refuses is not retried (the full sync's tasks have two retries, minutes apart): the first
    task fails at try 1, and the mail quotes libpq (a wrong password where the server checks passwords, an unknown
    role where it trusts local logins)."""
    portal, _unenrolled, unknown = world
    use_connections(aspire_small, as_role(database_dsn(portal.info.dbname), "aspire_portal_nobody", "wrong-Pw"))
    dag_run = run(dags, FULL_SYNC, {"customer_id": unknown}, expect="failed")
    failed = dag_run.get_task_instance("validate_customer")
    assert (failed.state, failed.try_number) == ("failed", 1)
    [message] = mail.take()
    text = body(message)
    assert "failed for good, at try 1 (an error a retry cannot fix" in text
    assert "the server refused the login of connection 'portal'" in text
    assert re.search(r'(password authentication failed for user|role) "aspire_portal_nobody"', text), text


def test_a_failed_load_delivers_a_mail_naming_its_entity_with_the_run_log_query_and_the_clear_command(
    dags, world, mail, caplog
):
    """A load asked for a customer no portal user is linked to fails at once, without retries, and writes nothing
    (model.NotEnrolled). resolve_scope refuses such a run earlier, so it is marked success here with dag.test's own
    `mark_success_pattern`: the load then meets the customer as it does when the portal deletes the customer's last
    user while the run is between the two tasks."""
    portal, unenrolled, _unknown = world
    dag_run = run(
        dags,
        INCREMENTAL,
        {"entities": ["cash_receipt"], "customer_ids": [unenrolled]},
        expect="failed",
        mark_success_pattern="resolve_scope",
    )
    assert dag_run.get_task_instance("load_cash_receipt").state == "failed"
    assert portal.execute(
        "select status, error like %s from aspire_sync.run_log where run_id = %s and entity = 'cash_receipt'",
        ("%not enrolled%", dag_run.run_id),
    ).fetchone() == ("failed", True)

    # One mail, the task's: the DAG's callback ran too (dag.test runs it inline) and left the run to that mail.
    assert "Run failed by a failed task: that task's failure alert told it" in caplog.text
    [message] = mail.take()
    assert message["Subject"] == f"[aspire-portal] {INCREMENTAL}: load_cash_receipt failed (entity cash_receipt)"
    text = body(message)
    assert "Entity: cash_receipt (portal table aspire.cash_receipt)" in text
    assert f"customer(s) [{unenrolled}] are not enrolled in the portal" in text
    assert "the watermark again" in text  # nothing lost: the next run reads from the watermark
    assert "where entity = 'cash_receipt' order by started_at desc limit 5" in text
    logical = dag_run.logical_date.isoformat()
    assert (
        f"airflow tasks clear {INCREMENTAL} --task-regex '^load_cash_receipt$' --downstream --only-failed "
        f"--start-date {logical} --end-date {logical} --yes"
    ) in text


@pytest.mark.timeout(300)
def test_a_retried_task_mails_once_when_its_last_try_fails(dags, world, mail, monkeypatch):
    """The freshness check has one retry, 30 s later: a threshold Variable that is not a number fails both tries, and
    only the second, final failure mails (Airflow calls on_retry_callback, which sends nothing, for the first)."""
    monkeypatch.setenv("AIRFLOW_VAR_ASPIRE_PORTAL_STALENESS_THRESHOLD_MINUTES", "soon")
    dag_run = run(dags, FRESHNESS, expect="failed")
    assert dag_run.get_task_instance("check_portal_freshness").try_number == 2
    [message] = mail.take()
    assert message["Subject"] == f"[aspire-portal] {FRESHNESS}: check_portal_freshness failed"
    text = body(message)
    assert f"Task check_portal_freshness of DAG {FRESHNESS} failed for good, after 2 tries" in text
    assert (
        "ValueError: the Variable aspire_portal_staleness_threshold_minutes must be a whole number of minutes of "
        "at least 1, got 'soon'; set it with: airflow variables set aspire_portal_staleness_threshold_minutes 45"
    ) in text
    assert "nobody is told when the portal goes stale" in text
    assert f"airflow tasks clear {FRESHNESS} --task-regex '^check_portal_freshness$'" in text


def test_a_run_that_failed_without_a_failed_task_is_mailed_by_the_dags_callback(dags, mail):
    """A run that times out has its unfinished tasks marked skipped: no task mail. The DAG's callback, which the DAG
    processor calls with this context (dag, run_id, reason), mails it."""
    daily = dags.get_dag("aspire_portal_daily_refresh")
    [callback] = (
        daily.on_failure_callback if isinstance(daily.on_failure_callback, list) else [daily.on_failure_callback]
    )
    callback({"dag": daily, "run_id": "scheduled__2026-11-25T10:00:00+00:00", "reason": "timed_out"})
    [message] = mail.take()
    assert message["Subject"] == "[aspire-portal] aspire_portal_daily_refresh: run failed (timed_out)"
    text = body(message)
    assert "it ran longer than its dagrun_timeout" in text
    assert "/dags/aspire_portal_daily_refresh/runs/scheduled__2026-11-25T10%3A00%3A00%2B00%3A00" in text
    assert "airflow dags trigger aspire_portal_daily_refresh" in text


def test_without_mail_configured_a_failure_is_a_warning_and_nothing_hangs(dags, world, no_mail, caplog, smtp_server):
    inbox, _port = smtp_server
    inbox.take()
    _portal, _unenrolled, unknown = world
    started = time.monotonic()
    run(dags, FULL_SYNC, {"customer_id": unknown}, expect="failed")
    assert time.monotonic() - started < 60
    output = caplog.text
    assert "Alert NOT sent: no mail is configured; set the Airflow connection 'smtp_default'" in output
    assert "the Variable 'aspire_portal_alert_to'" in output
    assert inbox.take() == []


def test_a_mail_server_without_recipients_is_a_warning(mail, monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_VAR_ASPIRE_PORTAL_ALERT_TO")
    assert deliver(Alert("subject", "body")) is False
    assert "set the Variable 'aspire_portal_alert_to'" in caplog.text
    assert mail.take() == []


# ---- staleness ---------------------------------------------------------------------------------------------------


def stop_moving(portal: psycopg.Connection, minutes: int) -> None:
    """As if the incremental had last moved `minutes` ago: every watermark's data_as_of and last write then."""
    portal.execute(
        "update aspire_sync.watermark set data_as_of = now() - make_interval(mins => %s), "
        "updated_at = now() - make_interval(mins => %s)",
        (minutes, minutes),
    )


def check(dags, portal: psycopg.Connection) -> dict:
    dag_run = run(dags, FRESHNESS)
    state = portal.execute(
        "select firing, notified_firing, notifications from aspire_sync.alert_state where alert = 'portal_stale'"
    ).fetchone()
    return {"run": dag_run, "firing": state[0], "told_firing": state[1], "notifications": state[2]}


def test_the_freshness_check_fires_past_the_threshold_not_before_reminds_and_says_when_fresh_again(
    dags, world, mail, monkeypatch
):
    portal, _unenrolled, _unknown = world
    monkeypatch.setenv("AIRFLOW_VAR_ASPIRE_PORTAL_STALENESS_THRESHOLD_MINUTES", "45")
    monkeypatch.setenv("AIRFLOW_VAR_ASPIRE_PORTAL_STALE_REALERT_MINUTES", "60")
    run(dags, INCREMENTAL)  # real watermarks, data_as_of about now
    assert set(dict(portal.execute("select entity, data_as_of from aspire_sync.watermark"))) == set(FIFTEEN)

    assert check(dags, portal)["firing"] is False
    stop_moving(portal, 44)
    found = check(dags, portal)
    assert found["firing"] is False and found["notifications"] == 0
    assert mail.take() == []

    stop_moving(portal, 46)
    found = check(dags, portal)
    assert found["firing"] is True and found["notifications"] == 1
    [stale] = mail.take()
    assert re.fullmatch(
        r"\[aspire-portal\] portal stale: \w+, \w+, \w+ and 4 more \(46 min behind; threshold "
        r"45 min\)",
        stale["Subject"],
    ), stale["Subject"]
    text = body(stale)
    assert 'the "data as of" of 7 of the 7 15-minute entities is older than 45 minutes' in text
    for entity in FIFTEEN:
        assert re.search(rf"^  {entity} +\S+ \S+ UTC +46 min +46 min ago +success .* STALE$", text, re.M), entity
    assert f"- {', '.join(sorted(FIFTEEN))}: no incremental load since" in text
    assert "the DAG is paused, or its runs are stuck or not scheduled" in text
    assert "airflow dags unpause aspire_portal_incremental" in text
    assert "a transaction held open on ASPIRE" in text and "sys.dm_tran_active_transactions" in text
    assert "reminder at most every 60 minutes" in text

    # still stale: no mail within the re-alert interval ...
    assert check(dags, portal)["notifications"] == 1
    assert mail.take() == []
    # ... a reminder once the last mail is older than it
    portal.execute("update aspire_sync.alert_state set notified_at = notified_at - interval '61 minutes'")
    assert check(dags, portal)["notifications"] == 2
    [reminder] = mail.take()
    assert reminder["Subject"].startswith("[aspire-portal] portal still stale since ")

    # the incremental moves again: one "fresh again" mail, then silence
    run(dags, INCREMENTAL)
    found = check(dags, portal)
    assert found["firing"] is False and found["told_firing"] is False and found["notifications"] == 3
    [fresh] = mail.take()
    assert fresh["Subject"].startswith("[aspire-portal] portal fresh again: every 15-minute entity within 45 min")
    assert "Nothing to do" in body(fresh)
    assert check(dags, portal)["notifications"] == 3
    assert mail.take() == []


@pytest.mark.dags  # reads the watermarks the incremental runs above wrote
def test_held_back_data_as_of_while_loads_succeed_points_to_an_open_aspire_transaction(world):
    portal, _unenrolled, _unknown = world
    now = datetime.now(UTC)
    rows = freshness.freshness(portal, FIFTEEN, 45, now)
    assert rows and not any(r.stale for r in rows)
    written = {r.entity: r.watermark_written_at for r in rows}
    # data_as_of 50 minutes behind while the watermark was written a minute ago: the loads run, the bound is held
    portal.execute(
        "update aspire_sync.watermark set data_as_of = %s where entity = 'invoice'", (now - timedelta(minutes=50),)
    )
    try:
        rows = freshness.freshness(portal, FIFTEEN, 45, now)
        assert [r.entity for r in rows if r.stale] == ["invoice"]
        assert rows[0].entity == "invoice"  # the worst first
        alert = freshness.staleness_alert("stale", rows, threshold_minutes=45, realert_minutes=60, since=now, now=now)
        assert alert.subject == "[aspire-portal] portal stale: invoice (50 min behind; threshold 45 min)"
        assert "- invoice: loads succeed (the watermark was written within the threshold)" in alert.body
        assert '"data as of" does not move: a transaction held open on ASPIRE' in alert.body
    finally:
        portal.execute(
            "update aspire_sync.watermark set data_as_of = %s, updated_at = %s where entity = 'invoice'",
            (now, written["invoice"]),
        )


@pytest.mark.dags  # reads the watermarks the incremental runs above wrote
def test_stale_exactly_past_the_threshold(world):
    """The boundary, with the check's clock given: stale once data_as_of is more than the threshold behind."""
    portal, _unenrolled, _unknown = world
    oldest = portal.execute("select min(data_as_of) from aspire_sync.watermark").fetchone()[0]
    before = freshness.freshness(portal, FIFTEEN, 45, oldest + timedelta(minutes=45))
    after = freshness.freshness(portal, FIFTEEN, 45, oldest + timedelta(minutes=45, seconds=1))
    assert not any(r.stale for r in before)
    assert (
        {r.entity for r in after if r.stale}
        == {r.entity for r in after if r.data_as_of < oldest + timedelta(seconds=1)}
        != set()
    )


def test_an_entity_never_loaded_or_of_unknown_freshness_is_stale_once_the_schema_is_older_than_the_threshold(
    fresh_database,
):
    with psycopg.connect(fresh_database("alerts_new_portal"), autocommit=True) as portal:
        migrations.migrate(portal)
        created = portal.execute("select min(applied_at) from aspire_sync.schema_migration").fetchone()[0]
        rows = freshness.freshness(portal, FIFTEEN, 45, created + timedelta(minutes=44))
        assert not any(r.stale for r in rows)  # a new deployment has one threshold's time for its first run
        portal.execute(
            "insert into aspire_sync.watermark (entity, high_water_mark, data_as_of) values ('invoice', 10, null)"
        )
        rows = freshness.freshness(portal, FIFTEEN, 45, created + timedelta(minutes=46))
        assert all(r.stale for r in rows) and all(r.data_as_of is None for r in rows)
        alert = freshness.staleness_alert(
            "stale", rows, threshold_minutes=45, realert_minutes=60, since=created, now=created + timedelta(minutes=46)
        )
        assert "(data as of unknown; threshold 45 min)" in alert.subject
        never = sorted(set(FIFTEEN) - {"invoice"})
        assert f"- {', '.join(never)}: never loaded by aspire_portal_incremental" in alert.body
        assert "- invoice: no incremental load since" in alert.body  # a watermark of unknown freshness


@pytest.mark.parametrize(
    ("firing", "told_firing", "told_minutes_ago", "expected"),
    [
        (False, False, None, None),
        (True, False, None, "stale"),
        (True, False, 5, "stale"),  # fresh again in between: the new episode is news
        (True, True, 59, None),
        (True, True, 60, "still_stale"),
        (False, True, 5, "fresh_again"),
        (False, False, 5, None),
    ],
)
def test_what_the_person_on_call_is_told(firing, told_firing, told_minutes_ago, expected):
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    told_at = None if told_minutes_ago is None else now - timedelta(minutes=told_minutes_ago)
    assert freshness.decide(firing, told_firing, told_at, now, realert_minutes=60) == expected


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_a_bad_minutes_variable_says_what_to_set(monkeypatch, value):
    monkeypatch.setenv("AIRFLOW_VAR_ASPIRE_PORTAL_STALENESS_THRESHOLD_MINUTES", value)
    with pytest.raises(
        ValueError,
        match=r"the Variable aspire_portal_staleness_threshold_minutes must be a whole "
        r"number of minutes of at least 1, got '.*'; set it with: airflow variables "
        r"set aspire_portal_staleness_threshold_minutes 45",
    ):
        freshness.minutes_variable(settings.THRESHOLD_VARIABLE, 45)
