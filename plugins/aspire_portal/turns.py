"""A load's turn among the loads of its entity: row locks on aspire_sync.sync_lock, never advisory locks
(docs/adr/0004-row-locks.md).

Loads of an entity share it (FOR SHARE), except a full load over everyone and a load that lets go of accounts or
contracts the entity holds, which take it to themselves (FOR UPDATE): no other load can then add rows of an account
while one decides the portal holds none. An incremental load also takes the entity's watermark row, so two never
read the same window. Every wait is bounded.
"""

from __future__ import annotations

import psycopg

from aspire_portal import sqlfiles
from aspire_portal.model import LoadRequest, LockTimeouts


def ensure_lock_row(target: psycopg.Connection, entity: str) -> None:
    """Creates the entity's row of aspire_sync.sync_lock if it is new (committed with whatever the caller commits)."""
    target.execute(sqlfiles.read("turns/insert_sync_lock.sql"), {"entity": entity})


def take_turn(target: psycopg.Connection, request: LoadRequest, timeouts: LockTimeouts, *, exclusive: bool) -> None:
    """Waits (at most `timeouts.coordination`) for this load's turn among the loads of its entity (`exclusive`: the
    entity to itself); then bounds every later lock wait of the transaction by `timeouts.other`. Short statements
    run without JIT: compiling them cost more than running them."""
    entity = {"entity": request.entity.name}
    target.execute(sqlfiles.read("turns/set_lock_timeout.sql"), {"timeout": timeouts.coordination})
    target.execute(sqlfiles.render("turns/lock_entity_scope.sql", exclusive=exclusive), entity)
    if request.kind == "incremental":
        target.execute(sqlfiles.read("turns/lock_entity.sql"), entity)
    target.execute(sqlfiles.read("turns/set_lock_timeout.sql"), {"timeout": timeouts.other})
    if not request.over_everyone:
        target.execute(sqlfiles.read("turns/set_jit_off.sql"))


def where(error: psycopg.Error) -> str:
    """Which statement a lock error came from, for its message."""
    context = (error.diag.context or "").strip().splitlines()
    return f" ({context[0]})" if context else ""
