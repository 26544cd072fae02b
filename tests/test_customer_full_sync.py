"""The customer full sync, driven through the real DAG with dag.test(), emulator -> portal on a real PostgreSQL."""

from __future__ import annotations

import copy
import re

import psycopg
import pytest
from airflow.sdk.definitions.param import ParamValidationError

from aspire_emulator import portal as portal_app
from helpers import minimal_work_mem, use_connections
from projection import assert_portal_equals_source

DAG_ID = "aspire_portal_customer_full_sync"


@pytest.fixture(scope="module")
def setup(fresh_database, aspire_small):
    portal_dsn = fresh_database("portal_full_sync")
    portal_app.create_portal_schema(portal_dsn)
    minimal_work_mem(portal_dsn)
    enrolled = portal_app.enroll(portal_dsn, aspire_small, count=3, seed=7)
    use_connections(aspire_small, portal_dsn)
    with psycopg.connect(aspire_small) as aspire, psycopg.connect(portal_dsn, autocommit=True) as portal:
        yield aspire, portal, enrolled


def run_full_sync(dagbag, conf):
    return dagbag.get_dag(DAG_ID).test(run_conf=conf)


def run_counts(portal, run_id):
    return portal.execute(
        "select entity, rows_read, rows_inserted, rows_updated, rows_deleted from aspire_sync.run_log "
        "where run_id = %s and status = 'success' order by entity",
        (run_id,),
    ).fetchall()


def portal_snapshot(portal):
    """Row counts of every table the sync writes (empty when the schemas do not exist yet)."""
    tables = portal.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in ('aspire', 'aspire_sync') order by 1"
    ).fetchall()
    return {t: portal.execute(f"select count(*) from {t}").fetchone()[0] for (t,) in tables}


def test_full_sync_lands_exactly_the_customers_scope(dagbag, setup):
    aspire, portal, enrolled = setup
    customer = enrolled[0]
    run = run_full_sync(dagbag, {"customer_id": customer})
    assert run.state == "success"
    counts = assert_portal_equals_source(aspire, portal, [customer])
    assert counts["account"] == 1 and counts["contract"] > 0 and counts["invoice"] > 0
    status = portal.execute(
        "select full_sync_completed_at, data_as_of, last_full_sync_run_id "
        "from aspire_sync.customer_sync_status where account_oid = %s",
        (customer,),
    ).fetchone()
    assert status[0] is not None and status[1] <= status[0] and status[2] == run.run_id
    loads = run_counts(portal, run.run_id)
    assert len(loads) == 12
    assert sum(read for _e, read, *_ in loads) == sum(counts.values())


def test_second_run_writes_nothing(dagbag, setup):
    aspire, portal, enrolled = setup
    run = run_full_sync(dagbag, {"customer_id": enrolled[0]})
    assert run.state == "success"
    loads = run_counts(portal, run.run_id)
    assert len(loads) == 12
    assert sum(read for _e, read, *_ in loads) > 0
    assert [(e, ins, upd, dele) for e, _r, ins, upd, dele in loads] == [(e, 0, 0, 0) for e, *_ in loads]
    assert_portal_equals_source(aspire, portal, [enrolled[0]])


def test_a_second_customer_adds_its_scope_and_leaves_the_first(dagbag, setup):
    aspire, portal, enrolled = setup
    run = run_full_sync(dagbag, {"customer_id": enrolled[1]})
    assert run.state == "success"
    assert_portal_equals_source(aspire, portal, enrolled[:2])


def test_stale_rows_of_the_customer_are_deleted_and_others_kept(dagbag, setup):
    aspire, portal, enrolled = setup
    customer, other_enrolled = enrolled[0], enrolled[1]
    stale = [(990000001, customer), (990000002, other_enrolled), (990000003, 424242424)]
    for invoice_oid, account_oid in stale:
        portal.execute(
            "insert into aspire.invoice (invoice_oid, invoice_number, account_oid, contract_oid, invoice_date, "
            "due_date, amount, balance, status, last_modified_at, source_rowver) "
            "values (%s, %s, %s, null, '2026-01-01', '2026-01-31', 10, 10, 'Open', '2026-01-01', 1)",
            (invoice_oid, f"STALE-{invoice_oid}", account_oid),
        )
    run = run_full_sync(dagbag, {"customer_id": customer})
    assert run.state == "success"
    left = {r[0] for r in portal.execute("select invoice_oid from aspire.invoice where invoice_oid > 990000000")}
    # the customer's own stale invoice is gone; another enrolled customer's and a stranger's wait for the daily run
    assert left == {990000002, 990000003}
    deleted = dict((e, d) for e, _r, _i, _u, d in run_counts(portal, run.run_id))
    assert deleted["invoice"] == 1
    portal.execute("delete from aspire.invoice where invoice_oid > 990000000")


def test_an_older_row_version_never_replaces_a_newer_row(dagbag, setup):
    aspire, portal, enrolled = setup
    customer = enrolled[0]
    contract_oid, rowver = portal.execute(
        "select contract_oid, source_rowver from aspire.contract where customer_account_oid = %s limit 1", (customer,)
    ).fetchone()
    newer = rowver + 10**12  # as if an incremental run had already applied a newer version of this contract
    portal.execute(
        "update aspire.contract set status = 'NewerState', source_rowver = %s where contract_oid = %s",
        (newer, contract_oid),
    )
    run = run_full_sync(dagbag, {"customer_id": customer})
    assert run.state == "success"
    assert portal.execute(
        "select status, source_rowver from aspire.contract where contract_oid = %s", (contract_oid,)
    ).fetchone() == ("NewerState", newer)
    portal.execute("update aspire.contract set source_rowver = 0 where contract_oid = %s", (contract_oid,))
    assert run_full_sync(dagbag, {"customer_id": customer}).state == "success"
    assert_portal_equals_source(aspire, portal, enrolled[:2])


@pytest.mark.parametrize("bad", [0, -1, "abc", 1.5, "1; drop table aspire.account; --", None])
def test_bad_customer_id_is_rejected_by_the_form_schema_and_writes_nothing(dagbag, setup, bad):
    _aspire, portal, _enrolled = setup
    before = portal_snapshot(portal)
    with pytest.raises(ParamValidationError, match="customer_id"):
        run_full_sync(dagbag, {"customer_id": bad})
    assert portal_snapshot(portal) == before


def test_unknown_and_unenrolled_customers_fail_with_a_clear_error_and_write_nothing(dagbag, setup, capfd):
    aspire, portal, enrolled = setup
    unknown = aspire.execute("select max(accountoid) + 1000 from dbo.account").fetchone()[0]
    unenrolled = aspire.execute(
        "select customeraccountoid from dbo.contract where isbooked = 1 and customeraccountoid <> all(%s) "
        "order by 1 limit 1",
        (enrolled,),
    ).fetchone()[0]
    for customer_id, message in [(unknown, "is not an ASPIRE account"), (unenrolled, "is not enrolled in the portal")]:
        before = portal_snapshot(portal)
        capfd.readouterr()
        run = run_full_sync(dagbag, {"customer_id": customer_id})
        assert run.state == "failed"
        assert run.get_task_instance("validate_customer").state == "failed"
        assert run.get_task_instance("load_invoice").state == "upstream_failed"
        output = "".join(capfd.readouterr())
        assert f"customer_id {customer_id} " in output and message in output
        assert portal_snapshot(portal) == before


def test_validation_messages():
    from aspire_portal.validation import parse_customer_id

    assert parse_customer_id(42) == 42 and parse_customer_id("42") == 42
    assert parse_customer_id(1000509.0) == 1000509 and parse_customer_id("1000509.0") == 1000509
    assert parse_customer_id(2**63 - 1) == 2**63 - 1
    for bad, why in [
        (0, "which is zero"),
        (-1, "which is negative"),
        ("-7", "which is negative"),
        ("abc", "not a whole number"),
        (1.5, "not a whole number"),
        (True, "True"),
        ("1; drop table x", "not a whole number"),
        ("", "not a whole number"),
        (None, "None"),
        (2**63, "larger than the largest AccountOid"),
        (10**30, "larger than the largest AccountOid"),
        (str(10**30), "larger than the largest AccountOid"),
        (1e30, "too large to name one id exactly"),
        ("5" * 5000, r"'555555555555555555555555\.\.\.555555555' \(5,000 characters\), which is larger than"),
        (10**5000, "an integer of about 5,000 digits, which is larger than the largest AccountOid"),
        ("-" + "5" * 5000, r"\(5,001 characters\), which is negative"),
    ]:
        with pytest.raises(
            ValueError,
            match=r"customer_id must be a positive whole number, an ASPIRE AccountOid "
            rf"\(1 to 9223372036854775807\); got .*{why}",
        ):
            parse_customer_id(bad)


ID_FIELDS = {DAG_ID: "customer_id", "aspire_portal_incremental": "customer_ids", "aspire_portal_explain": "id"}
MAX_ID = 2**63 - 1


@pytest.mark.parametrize(("dag_id", "name"), sorted(ID_FIELDS.items()))
@pytest.mark.parametrize(
    ("sent", "why"),
    [
        ("-5", "does not match"),
        ("0", "does not match"),
        ("1.5", "does not match"),
        ("abc", "does not match"),
        (str(10**30), "does not match"),
        (" 42", "does not match"),
        (str(MAX_ID + 1), "should not be valid"),
        (-5, "is less than the minimum of 1"),
        (0, "is less than the minimum of 1"),
        (1.5, "is not valid under any of the given schemas"),
        (10**30, f"is greater than the maximum of {MAX_ID}"),
        (True, "is not valid under any of the given schemas"),
    ],
    ids=repr,
)
def test_every_id_field_refuses_what_is_not_an_id_before_a_run_exists_quoting_it(dagbag, dag_id, name, sent, why):
    conf = {name: [sent] if name == "customer_ids" else sent}
    with pytest.raises(ParamValidationError, match=re.escape(f"Invalid input for param {name}: {sent!r} {why}")):
        with_conf(dagbag, dag_id, conf).validate()


@pytest.mark.parametrize(("dag_id", "name"), sorted(ID_FIELDS.items()))
@pytest.mark.parametrize("sent", [42, "42", 42.0, MAX_ID, str(MAX_ID)], ids=repr)
def test_every_id_field_takes_an_id_as_the_form_types_it_or_as_an_integer(dagbag, dag_id, name, sent):
    conf = {name: [sent] if name == "customer_ids" else sent}
    assert with_conf(dagbag, dag_id, conf).validate()[name] == conf[name]


def with_conf(dagbag, dag_id, conf):
    """The DAG's params with a trigger's conf, as Airflow checks them before it creates a run."""
    params = copy.deepcopy(dagbag.get_dag(dag_id).params)
    params.update(conf)
    return params


def test_an_id_sent_as_text_as_the_form_sends_it_syncs_that_customer(dagbag, setup):
    _aspire, portal, enrolled = setup
    run = run_full_sync(dagbag, {"customer_id": str(enrolled[1])})
    assert run.state == "success"
    assert portal.execute(
        "select account_oid from aspire_sync.customer_sync_status where last_full_sync_run_id = %s", (run.run_id,)
    ).fetchall() == [(enrolled[1],)]
    assert dict((entity, read) for entity, read, *_ in run_counts(portal, run.run_id))["account"] == 1


def test_a_whole_number_sent_as_a_float_syncs_that_customer(dagbag, setup):
    aspire, portal, enrolled = setup
    # The schema takes 1.0e6 as the integer 1000000 ...
    assert with_conf(dagbag, DAG_ID, {"customer_id": 1.0e6}).validate()["customer_id"] == 1.0e6
    run = run_full_sync(dagbag, {"customer_id": float(enrolled[0])})  # ... and so do the tasks
    assert run.state == "success"
    assert_portal_equals_source(aspire, portal, enrolled[:2])
