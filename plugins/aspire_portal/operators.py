"""The shared SQL-templated extract/load operator used by every DAG."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airflow.sdk import Asset, AssetAlias, BaseOperator, Param

from aspire_portal import catalogue
from aspire_portal.settings import SOURCE_CONN_ID, TARGET_CONN_ID

# Caps the concurrent extract queries on ASPIRE across all three DAGs (airflow_settings.yaml creates it).
ASPIRE_POOL = "aspire_source"


def portal_table(entity: str) -> Asset:
    """The Asset of one portal table (`aspire.<entity>`): schedule a cache refresh or a dbt job on it."""
    return Asset(name=f"aspire.{entity}", uri=f"aspire-portal://portal/aspire/{entity}", group="aspire_portal")


def portal_table_writes(entity: str) -> AssetAlias:
    """What each load declares as its outlet: an event of :func:`portal_table` is added through it only when the
    load inserted, updated or deleted rows, so a load that wrote nothing does not mark the table updated."""
    return AssetAlias(name=f"aspire_portal.writes.{entity}")


class AspireToPortalOperator(BaseOperator):
    """Loads one catalogue entity from ASPIRE into the portal database.

    `load_kind` "run" lets the run decide (the 15-minute DAG, see :mod:`aspire_portal.runs`): incremental for
    scheduled and manual runs, narrowed by the run's params, backfill for backfill runs.
    "full" loads the whole scope (one customer's when `customer_id` is set, else every enrolled
    customer's) and deletes what left it; "incremental" reads the row-version window above the entity's
    watermark and moves it; "backfill" re-applies the rows whose LastModifiedAt falls in
    [`modified_from`, `modified_to`) (ASPIRE local time) without moving the watermark.
    A full load over every enrolled customer (the daily refresh) also reconciles: it measures the drift between
    ASPIRE and the portal before its merge and fails, rolled back, if any is left after (`reconcile=False` skips
    that).
    The extract is ``include/sql/extract/extract_<entity>.sql``.
    """

    template_fields: Sequence[str] = ("customer_id", "modified_from", "modified_to")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        entity: str,
        load_kind: str,
        customer_id: int | str | None = None,
        modified_from: datetime | str | None = None,
        modified_to: datetime | str | None = None,
        source_conn_id: str = SOURCE_CONN_ID,
        target_conn_id: str = TARGET_CONN_ID,
        batch_size: int | None = None,
        reconcile: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("pool", ASPIRE_POOL)
        kwargs.setdefault("outlets", [portal_table_writes(entity)])
        # The load reads its portal table too (newest-wins merge, deletes): declared, the table's Asset is registered
        # and active from the moment the DAG is parsed, as an asset a DAG names. Through the alias alone it would be
        # created at its first event, inactive until a scheduler's pass, and every event before that is a warning.
        kwargs.setdefault("inlets", [portal_table(entity)])
        super().__init__(**kwargs)
        catalogue.entity(entity)  # fail at parse time on a name the catalogue does not have
        if load_kind not in ("run", "full", "incremental", "backfill", "scope"):
            raise ValueError(f"load_kind must be run, full, incremental, backfill or scope, got {load_kind!r}")
        self.entity = entity
        self.load_kind = load_kind
        self.customer_id = customer_id
        self.modified_from = modified_from
        self.modified_to = modified_to
        self.source_conn_id = source_conn_id
        self.target_conn_id = target_conn_id
        self.batch_size = batch_size
        self.reconcile = reconcile

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from aspire_portal import runs

        try:
            request = self._request(context)
        except runs.NotThisRun as skipped:
            raise AirflowSkipException(str(skipped)) from None
        except ValueError as bad_input:  # bad params or Variables: retrying cannot help
            raise AirflowFailException(str(bad_input)) from bad_input
        return _load(self, request, context)

    def _request(self, context: Any) -> Any:
        from aspire_portal import runs
        from aspire_portal.model import LoadRequest, RunContext
        from aspire_portal.validation import parse_customer_id

        if self.load_kind == "run":
            return runs.fifteen_minute_request(self.entity, context)
        customer_id = None if _blank(self.customer_id) else parse_customer_id(self.customer_id)
        everyone = self.load_kind == "full" and customer_id is None
        rebaseline = everyone and (context.get("params") or {}).get("rebaseline") is True
        return LoadRequest(
            entity=catalogue.entity(self.entity),
            kind=self.load_kind,  # type: ignore[arg-type]
            accounts=None if customer_id is None else (customer_id,),
            customer_id=customer_id,
            modified_from=_as_datetime(self.modified_from),
            modified_to=_as_datetime(self.modified_to),
            run=RunContext(dag_id=self.dag_id, run_id=context["run_id"], task_id=self.task_id),
            reconcile=self.reconcile and everyone and not rebaseline,
            rebaseline=rebaseline,
        )


class ScopeChangesOperator(BaseOperator):
    """The 15-minute run's scope changes for the daily entities, one load after another in one task: the rows of
    contracts and accounts that entered the scope come in, those of the ones that left go (load kind "scope").

    One task rather than one per entity: they are small, and a run the change watcher starts back to back pays a
    task process and a pool slot per task. Each entity keeps its own transaction, log section, row counts and
    Asset event; one that fails does not stop the others, and the task fails after them (a retry repeats the
    others, which is harmless: each applies what is still to apply)."""

    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        entities: Sequence[str],
        source_conn_id: str = SOURCE_CONN_ID,
        target_conn_id: str = TARGET_CONN_ID,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("pool", ASPIRE_POOL)
        kwargs.setdefault("outlets", [portal_table_writes(entity) for entity in entities])
        kwargs.setdefault("inlets", [portal_table(entity) for entity in entities])  # see AspireToPortalOperator
        super().__init__(**kwargs)
        for entity in entities:
            if catalogue.entity(entity).cadence != "daily":
                raise ValueError(f"{entity} is not a daily entity: its loads take their scope changes themselves")
        self.entities = list(entities)
        self.source_conn_id = source_conn_id
        self.target_conn_id = target_conn_id
        self.batch_size = None

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from aspire_portal import runs

        results: dict[str, Any] = {}
        failed: list[tuple[str, BaseException]] = []
        for entity in self.entities:
            try:
                request = runs.fifteen_minute_request(entity, context)
            except runs.NotThisRun as skipped:
                self.log.info("%s: %s", entity, skipped)
                continue
            except ValueError as bad_input:
                raise AirflowFailException(str(bad_input)) from bad_input
            self.log.info("::group::%s: scope changes", entity)
            try:
                results[entity] = _load(self, request, context)
            except Exception as error:  # noqa: BLE001 - the others still apply theirs; the task fails after them
                self.log.error("%s: %s: %s", entity, type(error).__name__, error)
                failed.append((entity, error))
            finally:
                self.log.info("::endgroup::")
        if failed:
            names = ", ".join(entity for entity, _ in failed)
            first = failed[0][1]
            if isinstance(first, AirflowFailException):
                raise AirflowFailException(f"scope changes failed for {names}: {first}") from first
            raise RuntimeError(f"scope changes failed for {names}: {type(first).__name__}: {first}") from first
        if not results:
            raise AirflowSkipException("no daily entity takes scope changes in this run")
        return results


def _load(operator: Any, request: Any, context: Any) -> dict[str, Any]:
    """One entity's load for `operator` (its connections and batch size): the load, the quarantine mail, and the
    entity's Asset event when it wrote."""
    from airflow.sdk.exceptions import AirflowFailException

    from aspire_portal import runs
    from aspire_portal.connections import source_connection, target_connection
    from aspire_portal.load import load_entity
    from aspire_portal.model import (
        ChangeTrackingMissing,
        EnrolmentUnreadable,
        LoadOptions,
        MassRemoval,
        NotEnrolled,
    )
    from aspire_portal.settings import BATCH_SIZE

    entity = request.entity.name
    try:
        guard = runs.removal_guard(context)
        options = LoadOptions(
            batch_size=operator.batch_size or BATCH_SIZE, guard=guard, deletes=runs.delete_detection()
        )
    except ValueError as bad_input:  # bad params or Variables: retrying cannot help
        raise AirflowFailException(str(bad_input)) from bad_input
    with (
        source_connection(operator.source_conn_id) as (source, dialect),
        target_connection(operator.target_conn_id) as target,
    ):
        operator.log.info(
            "Loading %s (%s) from %s [%s] into %s%s",
            entity,
            request.kind,
            operator.source_conn_id,
            dialect,
            operator.target_conn_id,
            f" for customers {list(request.accounts)}" if request.accounts else "",
        )
        try:
            result = load_entity(source, target, request, dialect=dialect, options=options)
        except (
            NotEnrolled,
            EnrolmentUnreadable,
            MassRemoval,
            ChangeTrackingMissing,
        ) as refused:  # a person must look
            raise AirflowFailException(str(refused)) from refused
    new = [row for row in result.quarantined if row.is_new]
    if new:  # the load succeeded; the rows it could not take are mailed once
        from aspire_portal import failure_alerts, mail

        mail.deliver(
            failure_alerts.quarantine_alert(operator.dag_id, context["run_id"], operator.task_id, entity, new), context
        )
    written = result.rows_inserted + result.rows_updated + result.rows_deleted
    if written and "outlet_events" in context:  # (a context built by hand, outside a task run, has none)
        context["outlet_events"][portal_table_writes(entity)].add(
            portal_table(entity),
            extra={
                "rows_inserted": result.rows_inserted,
                "rows_updated": result.rows_updated,
                "rows_deleted": result.rows_deleted,
                "load_kind": result.load_kind,
                "data_as_of": result.data_as_of.isoformat() if result.data_as_of else None,
            },
        )
    return result.as_dict()


def allow_mass_removal_param() -> Param:
    """The DAG param that lets one run remove more than the mass-removal guard allows (see removal_guard)."""
    return Param(
        False,
        type="boolean",
        title="Allow a mass removal",
        description="Leave off. A load refuses to remove more than 20% of a table's rows (and more than 50), or more "
        "than 20% of the customers or contracts it holds (and more than 5), in one run, and writes nothing: that is "
        "what an emptied or changed enrolment table looks like. Turn it on for one run only when such a removal is "
        "real (e.g. many customers really left the portal at once).",
    )


def _blank(value: object) -> bool:
    """Whether a templated field rendered to nothing (Jinja renders None as "None")."""
    return value in (None, "", "None")


def _as_datetime(value: datetime | str | None) -> datetime | None:
    if _blank(value):
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
