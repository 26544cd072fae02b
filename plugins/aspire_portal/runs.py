"""What one run of a DAG means for one entity load: which kind of load, over which customers and window.

- A scheduled or manual run of the 15-minute DAG reads each entity's row-version window above its watermark.
- A manual run may narrow itself with params: `entities` (others are skipped) and `customer_ids` (those
  customers are re-loaded in full: upserts and stale-row deletes, watermark untouched).
- A backfill run re-applies the rows whose LastModifiedAt (ASPIRE local time) falls in the run's data interval,
  without moving the watermark.
- The daily entities take part in scheduled and manual runs with their scope changes only (kind "scope"): the
  rows of contracts and accounts that entered the scope come in, those of the ones that left go.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pendulum

from aspire_portal import catalogue, settings
from aspire_portal.model import LoadKind, LoadRequest, RemovalGuard, RunContext
from aspire_portal.validation import parse_customer_id

ASPIRE_TIMEZONE = pendulum.timezone(settings.DAILY_TIMEZONE)
# LastModifiedAt is datetime2(3): the last instant of a window is 1 ms before its end.
_TICK = timedelta(milliseconds=1)


class NotThisRun(Exception):
    """The run's params leave this entity out."""


def aspire_local_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The naive ASPIRE local-time window [from, to) that holds every LastModifiedAt written in [start, end) UTC.

    Without a clock change in the interval it is exact. Around one it errs on the wide side, which only makes a
    re-apply re-read rows (harmless: the merge is idempotent): a window ending on the November change (clock
    falls back) ends after it starts, an interval spanning it covers the repeated hour from both sides, and the
    skipped March hour holds no timestamps at all.
    """
    if end <= start:
        raise ValueError(f"the run's data interval is empty ({start} to {end}); a backfill needs real intervals")
    span = end - start
    first = pendulum.instance(start).in_timezone(ASPIRE_TIMEZONE).naive()
    last = pendulum.instance(end - _TICK).in_timezone(ASPIRE_TIMEZONE).naive() + _TICK
    return min(first, last - span), max(last, first + span)


def selected_entities(params: dict[str, Any]) -> tuple[str, ...]:
    """The entities a run's `entities` param names (all of the 15-minute set when empty), validated."""
    names = params.get("entities") or []
    allowed = [e.name for e in catalogue.entities("15min")]
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ValueError(f"entities {unknown} are not in the 15-minute set; choose from {allowed}")
    return tuple(names) or tuple(allowed)


def selected_customers(params: dict[str, Any]) -> tuple[int, ...] | None:
    """The customers a run's `customer_ids` param names, validated; None when it names none (all enrolled)."""
    values = params.get("customer_ids") or []
    return tuple(parse_customer_id(v, "customer_ids item") for v in values) or None


def is_backfill(dag_run: Any) -> bool:
    """Whether the run was made by `airflow backfill create`."""
    return str(getattr(dag_run.run_type, "value", dag_run.run_type)) == "backfill"


def fifteen_minute_request(entity_name: str, context: dict[str, Any]) -> LoadRequest:
    """The load one task of the 15-minute DAG performs in this run (NotThisRun when the params leave it out)."""
    params = context.get("params") or {}
    entity = catalogue.entity(entity_name)
    customers = selected_customers(params)
    dag_run = context["dag_run"]
    kind: LoadKind
    modified_from = modified_to = None
    if entity.cadence == "daily":
        if customers or is_backfill(dag_run):
            raise NotThisRun(
                f"{entity_name} takes its scope changes in scheduled and manual runs, not in a "
                "backfill or a run for some customers"
            )
        kind = "scope"
    elif entity_name not in selected_entities(params):
        raise NotThisRun(f"{entity_name} is not among this run's entities {list(selected_entities(params))}")
    elif is_backfill(dag_run):
        kind = "backfill"
        modified_from, modified_to = aspire_local_window(dag_run.data_interval_start, dag_run.data_interval_end)
    elif customers:
        kind = "full"
    else:
        kind = "incremental"
    return LoadRequest(
        entity=entity,
        kind=kind,
        accounts=customers,
        customer_id=customers[0] if customers and len(customers) == 1 else None,
        modified_from=modified_from,
        modified_to=modified_to,
        run=RunContext(dag_id=dag_run.dag_id, run_id=context["run_id"], task_id=task_id(entity)),
    )


SCOPE_CHANGES_TASK = "apply_scope_daily_entities"


def task_id(entity: catalogue.Entity) -> str:
    """The 15-minute DAG's task that loads `entity`: its changes, or (one task for all five) a daily entity's scope
    changes."""
    return entity.task_id if entity.cadence == "15min" else SCOPE_CHANGES_TASK


def fifteen_minute_requests(context: dict[str, Any]) -> list[LoadRequest]:
    """Every load this run of the 15-minute DAG makes (those its params leave out are not among them)."""
    requests = []
    for entity in catalogue.ENTITIES:
        try:
            requests.append(fifteen_minute_request(entity.name, context))
        except NotThisRun:
            continue
    return requests


def delete_detection() -> str:
    """How the 15-minute loads find rows deleted in ASPIRE: the Variable aspire_portal_delete_detection, key_check
    (the default: every key, every run), change_tracking (SQL Server Change Tracking) or daily (left to the daily
    refresh). LoadOptions refuses any other value."""
    from aspire_portal.variables import variable

    return str(variable(settings.DELETE_DETECTION_VARIABLE, "key_check")).strip()


def removal_guard(context: Any) -> RemovalGuard:
    """The mass-removal guard of this task's load: the Variables aspire_portal_max_removal_fraction (default 0.2),
    aspire_portal_mass_removal_floor (rows, default 50) and aspire_portal_mass_removal_floor_scope (accounts or
    contracts, default 5), and the run's param allow_mass_removal."""
    from aspire_portal.variables import variable

    defaults = RemovalGuard()
    values = {
        name: variable(name, str(default))
        for name, default in (
            (settings.MAX_REMOVAL_FRACTION_VARIABLE, defaults.max_fraction),
            (settings.MASS_REMOVAL_FLOOR_VARIABLE, defaults.floor),
            (settings.MASS_REMOVAL_FLOOR_SCOPE_VARIABLE, defaults.scope_floor),
        )
    }
    allowed = (context.get("params") or {}).get("allow_mass_removal", False)
    if not isinstance(allowed, bool):
        raise ValueError(f"allow_mass_removal must be true or false, got {allowed!r}")
    try:
        return RemovalGuard(
            max_fraction=float(values[settings.MAX_REMOVAL_FRACTION_VARIABLE]),
            floor=int(values[settings.MASS_REMOVAL_FLOOR_VARIABLE]),
            scope_floor=int(values[settings.MASS_REMOVAL_FLOOR_SCOPE_VARIABLE]),
            allowed=allowed,
        )
    except ValueError as error:
        raise ValueError(
            f"the mass-removal Variables are not usable ({error}): {settings.MAX_REMOVAL_FRACTION_VARIABLE} must "
            f"be a fraction above 0 and at most 1 (e.g. 0.2), {settings.MASS_REMOVAL_FLOOR_VARIABLE} and "
            f"{settings.MASS_REMOVAL_FLOOR_SCOPE_VARIABLE} whole numbers of 0 or more (e.g. 50 and 5); "
            f"they are {values}"
        ) from None


settings.MAX_REMOVAL_FRACTION_VARIABLE = "aspire_portal_max_removal_fraction"
MASS_REMOVAL_FLOOR = "aspire_portal_mass_removal_floor"
settings.MASS_REMOVAL_FLOOR_SCOPE_VARIABLE = "aspire_portal_mass_removal_floor_scope"
