"""Every DAG file imports, is documented and tagged, has an owner and retries, and runs on its intended schedule."""

from __future__ import annotations

import pytest

EXPECTED_SCHEDULES = {
    "aspire_portal_customer_full_sync": None,
}


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_SCHEDULES))
def test_dag_is_documented_owned_and_retried(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} is not in the dags folder"
    assert dag.doc_md and len(dag.doc_md) > 200
    assert "aspire" in dag.tags and "portal" in dag.tags
    assert not dag.catchup
    for task in dag.tasks:
        assert task.owner == "data-engineering", task.task_id
        if task.task_id != "validate_customer":  # bad input is not retried
            assert task.retries >= 1, task.task_id


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_SCHEDULES))
def test_schedule(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    expected = EXPECTED_SCHEDULES[dag_id]
    if expected is None:
        assert dag.schedule is None and type(dag.timetable).__name__ == "NullTimetable"
    else:
        timetable, expression, timezone = expected
        assert type(dag.timetable).__name__ == timetable
        assert dag.timetable._expression == expression
        assert str(dag.timetable._timezone.name) == timezone


def test_customer_full_sync_loads_every_entity_after_validation(dagbag):
    from aspire_portal import catalogue

    dag = dagbag.get_dag("aspire_portal_customer_full_sync")
    loads = {e.task_id for e in catalogue.ENTITIES}
    assert loads <= set(dag.task_ids)
    validate = dag.get_task("validate_customer")
    assert validate.downstream_task_ids == {"migrate_portal_schema"}
    assert dag.get_task("migrate_portal_schema").downstream_task_ids == loads
    assert dag.get_task("mark_full_sync_done").upstream_task_ids == loads


def test_customer_full_sync_form(dagbag):
    param = dagbag.get_dag("aspire_portal_customer_full_sync").params.get_param("customer_id")
    assert param.schema["type"] == "integer"
    assert param.schema["minimum"] == 1
    assert param.schema["title"] and param.description
