"""The drift measured on demand (`python -m aspire_portal reconcile --check`): every entity's in-scope rows
extracted from ASPIRE into a temp stage and compared with the portal, one transaction per entity, writing only the
measurements (aspire_sync.reconciliation)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from aspire_portal import reconcile, scope
from aspire_portal.catalogue import Entity
from aspire_portal.model import DEFAULT_OPTIONS, Dialect, LoadOptions, RunContext
from aspire_portal.planning import plan_everyone
from aspire_portal.staging import stage_scope


def measure_now(
    source: Any,
    target: psycopg.Connection,
    dialect: Dialect,
    entities: Sequence[Entity],
    run: RunContext,
    options: LoadOptions = DEFAULT_OPTIONS,
) -> list[reconcile.Drift]:
    """Each entity's drift now, against one scope resolved for all of them."""
    resolved = scope.resolve(source, target, dialect, persist=False)
    drifts = []
    for entity in entities:
        with target.transaction():
            changes = plan_everyone(entity, resolved, scope.held(target, entity, resolved, use_marker=False))
            stage, columns = stage_scope(source, target, entity, dialect, resolved, changes, options)
            drift = reconcile.compare(
                target,
                entity,
                stage,
                columns,
                phase="on_demand",
                read_bound=resolved.read_bound,
                pending_from=reconcile.pending_from(target, entity, resolved.read_bound),
                scope_changes=reconcile.scope_changes(changes),
            )
            reconcile.save(target, (drift,), run)
        drifts.append(drift)
    return drifts
