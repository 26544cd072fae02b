"""Every DAG file imports, is documented and tagged, has an owner, retries and the failure alert, and runs on its
intended schedule."""

from __future__ import annotations

import pytest

EXPECTED_SCHEDULES = {
    "aspire_portal_customer_full_sync": None,
    "aspire_portal_incremental": ("CronDataIntervalTimetable", "*/15 * * * *", "UTC"),
    "aspire_portal_daily_refresh": ("CronTriggerTimetable", "0 4 * * *", "America/Chicago"),
    "aspire_portal_freshness_check": ("CronTriggerTimetable", "*/5 * * * *", "UTC"),
    "aspire_portal_explain": None,
}
NOT_RETRIED = {"trigger_missing_full_syncs", "start_rebaseline"}


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == set(EXPECTED_SCHEDULES)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_SCHEDULES))
def test_dag_is_documented_owned_and_retried(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} is not in the dags folder"
    assert dag.doc_md and len(dag.doc_md) > 200
    assert "aspire" in dag.tags and "portal" in dag.tags
    assert not dag.catchup
    for task in dag.tasks:
        assert task.owner == "data-engineering", task.task_id
        if task.task_type == "AspireToPortalOperator":
            assert task.pool == "aspire_source", task.task_id
        if task.task_id not in NOT_RETRIED:  # a lost trigger is re-made by the next run
            assert task.retries >= 1, task.task_id


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_SCHEDULES))
def test_every_task_and_every_run_that_can_time_out_alerts_on_failure(dagbag, dag_id):
    """Every task mails when it fails for good; a run fails without a failed task only when it times out
    (dagrun_timeout), so those DAGs mail from the DAG too. (The customer full sync has no timeout, and Airflow 3.3's
    dag.test() cannot build a DAG callback's context for a DAG with a required param.)"""
    from aspire_portal.failure_alerts import FailureNotifier

    dag = dagbag.get_dag(dag_id)
    for task in dag.tasks:
        assert any(isinstance(c, FailureNotifier) for c in task.on_failure_callback), task.task_id
    if dag.dagrun_timeout is not None:
        assert isinstance(dag.on_failure_callback, FailureNotifier)


def test_the_freshness_check_is_independent_of_the_incremental(dagbag):
    dag = dagbag.get_dag("aspire_portal_freshness_check")
    assert dag.max_active_runs == 1 and not dag.catchup
    assert set(dag.task_ids) == {"migrate_portal_schema", "check_portal_freshness"}
    assert dag.get_task("check_portal_freshness").upstream_task_ids == {"migrate_portal_schema"}


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_SCHEDULES))
def test_schedule(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    expected = EXPECTED_SCHEDULES[dag_id]
    if expected is None:
        assert dag.schedule is None and type(dag.timetable).__name__ == "NullTimetable"
    else:
        timetable, expression, timezone = expected
        time_table = dag.timetable
        if dag_id == "aspire_portal_incremental":
            # the */15 floor (what a backfill replays) or ASPIRE's change clock, watched by the triggerer
            assert type(time_table).__name__ == "AssetOrTimeSchedule"
            (watcher,) = time_table.asset_condition.watchers
            assert watcher.trigger.serialize() == (
                "aspire_portal.watcher.AspireChangeTrigger",
                {"conn_id": "aspire", "poll_seconds": 5.0},
            )
            time_table = time_table.timetable
        assert type(time_table).__name__ == timetable
        assert time_table._expression == expression
        assert str(time_table._timezone.name) == timezone


def test_customer_full_sync_loads_every_entity_after_validation(dagbag):
    from aspire_portal import catalogue

    dag = dagbag.get_dag("aspire_portal_customer_full_sync")
    loads = {e.task_id for e in catalogue.ENTITIES}
    assert loads <= set(dag.task_ids)
    validate = dag.get_task("validate_customer")
    assert validate.downstream_task_ids == {"migrate_portal_schema"}
    assert dag.get_task("migrate_portal_schema").downstream_task_ids == {"resolve_scope"}
    # the loads take the customer's scope from the resolved state, not from each other: no order among them
    assert dag.get_task("resolve_scope").downstream_task_ids == loads
    for task_id in loads:
        assert dag.get_task(task_id).upstream_task_ids == {"resolve_scope"}
    assert dag.get_task("mark_full_sync_done").upstream_task_ids == loads


ID_FIELDS = {
    "aspire_portal_customer_full_sync": "customer_id",
    "aspire_portal_incremental": "customer_ids",
    "aspire_portal_explain": "id",
}


@pytest.mark.parametrize(("dag_id", "name"), sorted(ID_FIELDS.items()))
def test_an_id_field_is_a_text_box_that_starts_empty(dagbag, dag_id, name):
    """The UI renders a param with a `type` of integer as a number input that clamps and rounds what was typed; one
    without a `type` is a text box (a list of them, a box of lines), and its text reaches the schema as typed."""
    from airflow.sdk.definitions._internal.types import NOTSET

    from aspire_portal.validation import ACCOUNT_OID_SCHEMA

    param = dagbag.get_dag(dag_id).params.get_param(name)
    schema = param.schema["items"] if name == "customer_ids" else param.schema
    assert "type" not in schema and {k: schema[k] for k in ACCOUNT_OID_SCHEMA} == ACCOUNT_OID_SCHEMA
    assert param.value == ([] if name == "customer_ids" else NOTSET)
    assert param.schema["title"] and "digits only" in param.description


def test_incremental_dag_shape(dagbag):
    from aspire_portal import catalogue

    dag = dagbag.get_dag("aspire_portal_incremental")
    assert dag.max_active_runs == 1 and not dag.catchup
    loads = {f"load_{e.name}" for e in catalogue.entities("15min")}
    assert loads <= set(dag.task_ids)
    assert not any(t.startswith("load_") and t not in loads for t in dag.task_ids)
    # the daily entities' scope changes: one task, one load after another (a task process per entity would cost a
    # run the change watcher starts more than their loads do)
    scope_only = {"apply_scope_daily_entities"}
    assert dag.get_task("apply_scope_daily_entities").entities == [e.name for e in catalogue.entities("daily")]
    assert not any(t.startswith("apply_scope_") and t not in scope_only for t in dag.task_ids)
    # the loads are independent of each other: each diffs the run's resolved scope with what it holds
    assert dag.get_task("resolve_scope").upstream_task_ids == {"migrate_portal_schema"}
    for task_id in loads | scope_only:
        assert dag.get_task(task_id).upstream_task_ids == {"resolve_scope"}
    assert {p for p in dag.params} == {"entities", "customer_ids", "allow_mass_removal"}
    for name in ("entities", "customer_ids", "allow_mass_removal"):
        param = dag.params.get_param(name)
        assert param.schema["title"] and param.description


def test_daily_dag_shape(dagbag):
    from aspire_portal import catalogue

    dag = dagbag.get_dag("aspire_portal_daily_refresh")
    assert dag.max_active_runs == 1 and not dag.catchup
    assert {f"refresh_{e.name}" for e in catalogue.entities("daily")} | {
        f"reconcile_{e.name}" for e in catalogue.entities("15min")
    } | {"migrate_portal_schema", "check_aspire_timeline", "finish_rebaseline", "summarize_run"} == set(dag.task_ids)
    assert all(dag.get_task(t).load_kind == "full" for t in dag.task_ids if t.startswith(("refresh_", "reconcile_")))
    # every load waits for the look at ASPIRE's timeline (which begins a re-baseline when asked to)
    loads = {t for t in dag.task_ids if t.startswith(("refresh_", "reconcile_"))}
    assert loads <= dag.get_task("check_aspire_timeline").downstream_task_ids
    assert dag.params.get_param("rebaseline").value is False


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_SCHEDULES))
def test_every_load_task_declares_its_portal_table_as_an_outlet(dagbag, dag_id):
    """A load adds an event of its table's Asset (aspire.<entity>) through this alias, only when it wrote rows; the
    Asset itself is its inlet (the load reads the table), so parsing the DAG registers it, active."""
    from airflow.sdk import AssetAlias

    from aspire_portal.operators import portal_table

    for task in dagbag.get_dag(dag_id).tasks:
        if task.task_type == "AspireToPortalOperator":
            assert task.outlets == [AssetAlias(name=f"aspire_portal.writes.{task.entity}")], task.task_id
            assert task.inlets == [portal_table(task.entity)], task.task_id


def test_the_explain_dag_asks_for_a_kind_and_an_id_and_only_reads(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from helpers import REPO

    dag = DagBag(dag_folder=str(REPO / "dags" / "aspire_portal_explain.py")).get_dag("aspire_portal_explain")
    assert dag.task_ids == ["explain_object"]
    assert dag.params["kind"] == "contract" and set(dag.params.get_param("kind").schema["enum"]) == {
        "contract",
        "invoice",
        "receipt",
        "customer",
    }


def test_the_incremental_loads_go_first(dagbag):
    """A run the change watcher started is for the 15-minute loads: they outrank every other task of the run for
    the free slots (the daily entities' scope changes, the search for missing full syncs)."""
    from aspire_portal import catalogue

    dag = dagbag.get_dag("aspire_portal_incremental")
    loads = {e.task_id for e in catalogue.entities("15min")}
    # the default weight rule, "downstream": a task's weight and the weights of every task downstream of it
    weight = {
        t.task_id: t.priority_weight + sum(d.priority_weight for d in t.get_flat_relatives(upstream=False))
        for t in dag.tasks
    }
    assert {dag.get_task(t).weight_rule for t in weight} == {"downstream"}
    upstream = {u.task_id for t in loads for u in dag.get_task(t).get_flat_relatives(upstream=True)}
    others = [w for task_id, w in weight.items() if task_id not in loads | upstream]
    assert upstream == {"migrate_portal_schema", "resolve_scope"} and len(others) >= 5
    assert min(weight[t] for t in loads) > max(others), weight
    money = {"load_cash_receipt", "load_invoice", "load_invoice_detail"}
    assert min(weight[t] for t in money) > max(weight[t] for t in loads - money), weight
