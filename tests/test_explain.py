"""`explain` and `status`: "why isn't X in the portal?" for one object of every reason code, built on the
emulator and a portal the real incremental DAG filled; through the command line (`python -m aspire_portal explain`,
a new process, as a support person runs it) and the manual DAG `aspire_portal_explain` (dag.test()); `status` with a
failing load, a quarantined enrolment value and a stale portal.
"""

from __future__ import annotations

import json
import threading

import psycopg
import pytest

from aspire_emulator import generate
from aspire_emulator import portal as portal_app
from aspire_portal import advice, catalogue, explain, model
from aspire_portal.load import load_entity
from helpers import run_cli, run_dag, settle, use_connections

pytestmark = pytest.mark.timeout(600)
EXPLAIN_DAG_ID = "aspire_portal_explain"


@pytest.fixture(scope="module")
def world(fresh_database, dagbag):
    aspire_dsn = fresh_database("explain_aspire")
    generate.create(aspire_dsn, size="small", seed=717)
    portal_dsn = fresh_database("explain_portal")
    portal_app.create_portal_schema(portal_dsn)
    portal_app.enroll(portal_dsn, aspire_dsn, count=20, seed=7)
    use_connections(aspire_dsn, portal_dsn)
    with psycopg.connect(aspire_dsn, autocommit=True) as aspire, psycopg.connect(portal_dsn, autocommit=True) as portal:
        settle(aspire)
        run_dag(dagbag)
        yield aspire_dsn, portal_dsn, aspire, portal


@pytest.fixture(autouse=True)
def _connections(world):
    use_connections(world[0], world[1])


def ask(world, kind: str, oid: int) -> explain.Explanation:
    aspire_dsn, portal_dsn, _aspire, _portal = world
    with psycopg.connect(aspire_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        return explain.explain(source, target, "postgres", kind, oid)


def cli(world, *args: str):
    return run_cli(world[0], world[1], *args)


def enrolled(world) -> list[int]:
    return portal_app.enrolled_accounts(world[1])


def new_invoice(aspire: psycopg.Connection, account: int) -> int:
    """A new invoice billed to `account`, committed now (a copy of another of its invoices, on no contract)."""
    return aspire.execute(
        "insert into dbo.invoice (invoiceoid, invoicenumber, accountoid, contractoid, invoicedate, duedate, amount, "
        "balance, status) select m.oid, 'EXPLAIN-' || m.oid, %s, null, current_date, current_date + 30, 125.00, "
        "125.00, i.status from dbo.invoice as i, (select max(invoiceoid) + 1 as oid from dbo.invoice) as m "
        "order by i.invoiceoid limit 1 returning invoiceoid",
        (account,),
    ).fetchone()[0]


def test_a_booked_contract_of_an_enrolled_customer_is_in_the_portal(world):
    _a, _p, aspire, portal = world
    contract = portal.execute("select contract_oid from aspire.contract order by contract_oid limit 1").fetchone()[0]
    answer = ask(world, "contract", contract)
    assert (answer.reason, answer.in_aspire, answer.in_scope, answer.in_portal) == ("in_portal", True, True, True)
    assert "booked" in answer.why and "(enrolled)" in answer.why
    assert answer.command is None


def test_every_in_portal_kind_answers_in_portal(world):
    _a, _p, _aspire, portal = world
    for kind, entity in (("invoice", "invoice"), ("receipt", "cash_receipt"), ("customer", "account")):
        key = catalogue.entity(entity).key[0]
        oid = portal.execute(f"select {key} from aspire.{entity} order by {key} limit 1").fetchone()[0]
        assert ask(world, kind, oid).reason == "in_portal", (kind, oid)
    customer = ask(world, "customer", enrolled(world)[0])
    assert "portal user" in customer.why
    assert customer.facts["full_sync"]["full_sync_completed_at"] is None  # only the incremental ran (and asked for one)
    assert "full sync has not completed" in customer.next and "aspire_portal_customer_full_sync" in customer.command


def test_an_unbooked_contract(world):
    _a, _p, aspire, _portal = world
    contract = unbooked_contract(aspire)
    answer = ask(world, "contract", contract)
    assert (answer.reason, answer.in_aspire, answer.in_scope, answer.in_portal) == ("not_booked", True, False, False)
    assert "after it is booked" in answer.next


def test_a_booked_contract_whose_parties_are_not_enrolled(world):
    _a, _p, aspire, _portal = world
    contract = aspire.execute(
        "select c.contractoid from dbo.contract c where c.isbooked = 1 and not exists ("
        " select 1 from dbo.contractrole r where r.contractoid = c.contractoid"
        " and r.roletype in ('Customer', 'Guarantor') and r.accountoid = any(%s)) "
        "order by 1 limit 1",
        (enrolled(world),),
    ).fetchone()[0]
    answer = ask(world, "contract", contract)
    assert answer.reason == "no_enrolled_customer_or_guarantor" and not answer.in_scope
    assert "(not enrolled)" in answer.why and "portal user is created" in answer.next


def test_a_customer_and_an_invoice_of_an_account_not_enrolled(world):
    _a, _p, aspire, _portal = world
    account, invoice = aspire.execute(
        "select i.accountoid, i.invoiceoid from dbo.invoice i where i.accountoid <> all(%(enrolled)s) and not exists ("
        " select 1 from dbo.contractrole r join dbo.contract c using (contractoid) where r.contractoid = i.contractoid"
        " and c.isbooked = 1 and r.roletype in ('Customer', 'Guarantor') and r.accountoid = any(%(enrolled)s)) "
        "order by 2 limit 1",
        {"enrolled": enrolled(world)},
    ).fetchone()
    assert ask(world, "customer", account).reason == "account_not_enrolled"
    answer = ask(world, "invoice", invoice)
    assert answer.reason == "account_not_enrolled" and f"billed to account {account} (not enrolled)" in answer.why


def test_an_id_that_does_not_exist(world):
    answer = ask(world, "receipt", 987_654_321)
    assert (answer.reason, answer.in_aspire, answer.in_portal) == ("not_in_aspire", False, False)
    assert "check the id" in answer.next


def test_an_invoice_committed_after_the_last_run_is_pending_and_the_command_loads_it(world, dagbag):
    _a, _p, aspire, portal = world
    account = enrolled(world)[0]
    invoice = new_invoice(aspire, account)
    answer = ask(world, "invoice", invoice)
    assert (answer.reason, answer.in_scope, answer.in_portal) == ("pending_next_run", True, False)
    assert "next 15-minute run" in answer.next
    assert answer.command == (
        "airflow dags trigger aspire_portal_incremental --conf "
        f"'{json.dumps({'entities': ['invoice', 'invoice_detail'], 'customer_ids': [account]})}'"
    )
    conf = json.loads(answer.command.split("--conf ", 1)[1].strip("'"))
    run_dag(dagbag, conf=conf)  # what the command triggers
    assert ask(world, "invoice", invoice).reason == "in_portal"


def test_an_invoice_behind_a_transaction_held_open_on_aspire_waits_for_it(world, dagbag):
    aspire_dsn, _p, aspire, _portal = world
    held = psycopg.connect(aspire_dsn)
    try:
        held.execute("update dbo.account set name = name where accountoid = %s", (enrolled(world)[1],))  # open, holding
        invoice = new_invoice(aspire, enrolled(world)[0])  # committed after the held transaction began
        answer = ask(world, "invoice", invoice)
        assert answer.reason == "waiting_for_open_aspire_transaction" and answer.in_scope and not answer.in_portal
        assert "pg_stat_activity" in answer.command and "after a transaction still open" in answer.next
        run_dag(dagbag)
        # the run could not read it
        assert ask(world, "invoice", invoice).reason == "waiting_for_open_aspire_transaction"
    finally:
        held.rollback()
        held.close()
    settle(aspire)
    run_dag(dagbag)
    assert ask(world, "invoice", invoice).reason == "in_portal"


def test_a_contract_just_transferred_away_is_pending_removal_then_gone(world, dagbag):
    _a, _p, aspire, portal = world
    accounts = enrolled(world)
    contract, customer = aspire.execute(
        "select r.contractoid, r.accountoid from dbo.contractrole r join dbo.contract c using (contractoid) "
        "where c.isbooked = 1 and r.roletype = 'Customer' and r.accountoid = any(%(enrolled)s) and not exists ("
        "  select 1 from dbo.contractrole o where o.contractoid = r.contractoid and o.roletype = 'Guarantor' "
        "  and o.accountoid = any(%(enrolled)s)) order by 1 limit 1",
        {"enrolled": accounts},
    ).fetchone()
    assert ask(world, "contract", contract).reason == "in_portal"
    stranger = aspire.execute(
        "select min(accountoid) from dbo.account where accountoid <> all(%s)", (accounts,)
    ).fetchone()[0]
    aspire.execute(generate_transfer_sql(), {"contract_oid": contract, "account_oid": stranger})

    answer = ask(world, "contract", contract)
    assert (answer.reason, answer.in_scope, answer.in_portal) == ("removal_pending", False, True)
    assert "no_enrolled_customer_or_guarantor" in answer.next and "next 15-minute run" in answer.next
    assert answer.command == "airflow dags trigger aspire_portal_incremental"
    settle(aspire)
    run_dag(dagbag)
    after = ask(world, "contract", contract)
    assert (after.reason, after.in_portal) == ("no_enrolled_customer_or_guarantor", False)
    assert customer in accounts


def test_a_receipt_missing_below_the_watermark_is_drift_the_daily_refresh_repairs(world, dagbag):
    _a, _p, aspire, portal = world
    receipt, account = portal.execute(
        "select receipt_oid, account_oid from aspire.cash_receipt where account_oid = "
        "any(%s) order by receipt_oid limit 1",
        (enrolled(world),),
    ).fetchone()
    portal.execute("delete from aspire.cash_receipt where receipt_oid = %s", (receipt,))  # lost by the portal
    answer = ask(world, "receipt", receipt)
    assert (answer.reason, answer.in_scope, answer.in_portal) == ("drift", True, False)
    assert "drift, which the next 15-minute run will not repair" in answer.next and "daily refresh" in answer.next
    run_dag(dagbag)
    assert ask(world, "receipt", receipt).in_portal is False  # indeed not repaired by the 15-minute run
    conf = json.loads(answer.command.split("--conf ", 1)[1].strip("'"))
    assert conf == {"entities": ["cash_receipt"], "customer_ids": [account]}
    run_dag(dagbag, conf=conf)
    assert ask(world, "receipt", receipt).reason == "in_portal"


def test_an_invoice_whose_entity_load_is_failing(world):
    aspire_dsn, portal_dsn, aspire, portal = world
    settle(aspire)
    invoice = new_invoice(aspire, enrolled(world)[2])
    settle(aspire)
    locked, go = threading.Event(), threading.Event()

    def hold_the_table() -> None:  # an outside session holding aspire.invoice, so the load times out
        with psycopg.connect(portal_dsn) as other:
            other.execute("lock table aspire.invoice in access exclusive mode")
            locked.set()
            go.wait(60)

    holder = threading.Thread(target=hold_the_table)
    holder.start()
    try:
        locked.wait(30)
        run = model.RunContext("aspire_portal_incremental", "explain_failing", "load_invoice")
        request = model.LoadRequest(entity=catalogue.entity("invoice"), kind="incremental", run=run)
        with (
            psycopg.connect(aspire_dsn) as source,
            psycopg.connect(portal_dsn, autocommit=True) as target,
            pytest.raises(model.LockTimeout),
        ):
            load_entity(
                source,
                target,
                request,
                dialect="postgres",
                options=model.LoadOptions(timeouts=model.LockTimeouts(coordination="5s", other="1s")),
            )
    finally:
        go.set()
        holder.join()
    answer = ask(world, "invoice", invoice)
    assert (answer.reason, answer.in_scope, answer.in_portal) == ("load_failing", True, False)
    assert "LockTimeout" in answer.next and "load_invoice" in answer.next

    out = cli(world, "explain", "invoice", str(invoice), "--json")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert {"kind", "id", "in_aspire", "in_scope", "in_portal", "reason", "next"} <= answer.keys()
    assert (answer["kind"], answer["id"], answer["reason"]) == ("invoice", invoice, "load_failing")


def test_the_command_line_answers_in_words_and_refuses_a_bad_id(world):
    _a, _p, aspire, _portal = world
    contract = unbooked_contract(aspire)
    out = cli(world, "explain", "contract", str(contract))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"contract {contract}: not_booked")
    for line in ("in ASPIRE   yes", "in scope    no", "in portal   no", "rule        booked contracts", "next"):
        assert line in out.stdout
    bad = cli(world, "explain", "invoice", "12abc")
    assert bad.returncode == 1 and "the invoice id must be a positive whole number, an ASPIRE InvoiceOid" in bad.stderr
    huge = cli(world, "explain", "contract", "7" * 5000)
    assert huge.returncode == 1 and "(5,000 characters), which is larger than the largest ContractOid" in huge.stderr
    assert "Exceeds the limit" not in huge.stderr and "Traceback" not in huge.stderr


def test_the_explain_dag_logs_and_returns_the_same_answer(world, dagbag):
    _a, _p, aspire, _portal = world
    contract = unbooked_contract(aspire)
    run = dagbag.get_dag(EXPLAIN_DAG_ID).test(run_conf={"kind": "contract", "id": contract})
    assert run.state == "success"
    ti = next(ti for ti in run.get_task_instances() if ti.task_id == "explain_object")
    answer = ti.xcom_pull(task_ids="explain_object")
    assert (answer["kind"], answer["id"], answer["reason"]) == ("contract", contract, "not_booked")


def test_status_shows_the_failing_load_first_then_quarantine_and_staleness(world, dagbag):
    """Runs after the failing invoice load above: `status` puts it first, with its error."""
    _a, portal_dsn, aspire, portal = world
    out = cli(world, "status")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].endswith(": failing") and lines[1].startswith("FAILING  invoice") and "LockTimeout" in lines[2]
    assert f"customers enrolled without a completed full sync: {len(enrolled(world))}" in out.stdout

    user = portal.execute("select min(user_id) from portal.portal_user").fetchone()[0]
    portal.execute("insert into portal.portal_user_account (user_id, account_oid) values (%s, 999999999999)", (user,))
    try:
        settle(aspire)
        run_dag(dagbag)  # the invoice load succeeds again; the bad enrolment value is quarantined
        report = json.loads(cli(world, "status", "--json").stdout)
        daily = {e["entity"]: (e["state"], e["advice"]) for e in report["entities"] if e["cadence"] == "daily"}
        # no daily refresh has run yet: not stale (nothing stood still), but due, with the command that runs it now
        assert daily == {name: ("never", advice.NOT_REFRESHED_YET) for name in daily} and len(daily) == 5
        assert "to refresh it now: airflow dags trigger aspire_portal_daily_refresh" in advice.NOT_REFRESHED_YET
        assert advice.NOT_REFRESHED_YET in cli(world, "status").stdout
        run_dag(dagbag, "aspire_portal_daily_refresh")
        report = json.loads(cli(world, "status", "--json").stdout)
        assert report["worst"] == "ok"
        assert {e["entity"]: e["state"] for e in report["entities"]} == {e.name: "ok" for e in catalogue.ENTITIES}
        assert [(q["account_oid"], q["reason"]) for q in report["quarantined"]] == [
            ("999999999999", "names no ASPIRE account (no dbo.Account row with this AccountOid)")
        ]
        assert cli(world, "status", "--stale-after", "0").returncode == 2  # a usage error
        portal.execute(
            "update aspire_sync.watermark set data_as_of = data_as_of - interval '2 hours' where entity = 'account'"
        )  # as if the incremental had stood still for two hours
        stale = cli(world, "status", "--stale-after", "60")
        assert stale.stdout.splitlines()[0].endswith(": stale")
        assert "STALE    account" in stale.stdout and "is aspire_portal_incremental running" in stale.stdout
        portal.execute(
            "update aspire_sync.run_log set data_as_of = data_as_of - interval '30 hours' "
            "where entity = 'equipment' and load_kind = 'full' and customer_id is null"
        )  # as if the daily refresh had not run for a day and more
        stale = cli(world, "status")
        assert "STALE    equipment" in stale.stdout and "is aspire_portal_daily_refresh unpaused" in stale.stdout
    finally:
        portal.execute("delete from portal.portal_user_account where account_oid = 999999999999")


def unbooked_contract(aspire: psycopg.Connection) -> int:
    return aspire.execute("select contractoid from dbo.contract where isbooked = 0 order by 1 limit 1").fetchone()[0]


def generate_transfer_sql() -> str:
    from aspire_portal import sqlfiles

    return sqlfiles.read("emulator/simulate/update_contract_customer.sql")
