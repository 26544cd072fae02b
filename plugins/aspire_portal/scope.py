"""The customer scope as state: resolved once per run, persisted in ``aspire_sync``, diffed by every load.

A **resolution** reads the enrolled accounts from the portal's link table and, from ASPIRE, the booked contracts on
which one of them is Customer or Guarantor (with the account and role that bring each in), and stores them
(``aspire_sync.scope_resolution``, ``scope_account``, ``scope_contract``). Every load of the run reads that one
snapshot instead of deriving the scope again.

Each entity also records, in the transaction of each of its loads, which accounts and contracts it holds rows of
(``aspire_sync.entity_account_scope``, ``entity_contract_scope``). A load diffs that against the resolved scope:

- **entries** (in scope, not held yet: a booking, a new Guarantor, a new enrolment) bring their existing rows;
- **exits** (held, out of scope now: a transfer, a role removed, an un-booking, an un-enrolment) lose the rows no
  other account of the scope still justifies.

A full load over every enrolled customer (the daily run) resolves its own scope inside its transaction, under the
entity's exclusive scope lock, so nothing enrolled while it runs can be deleted by it. A load of some customers
(the customer full sync, a manual ``customer_ids`` run) re-reads those customers from ASPIRE on top of the newest
scope of everyone: their deletes come from that state and from ASPIRE, never from portal tables that other loads
of the same run are rewriting, so the result does not depend on the order the loads run in.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from aspire_portal import advice, catalogue, clock, enrolment, sqlfiles
from aspire_portal.catalogue import Entity
from aspire_portal.model import MassRemoval, NotEnrolled, RemovalGuard
from aspire_portal.planning import Held, Link, Plan, Scope, expected_held

log = logging.getLogger(__name__)


def guard_scope(target: psycopg.Connection, guard: RemovalGuard | None, after: Scope, dag_id: str | None) -> None:
    """Refuses, before anything is written, a scope of everyone that lets go of too many of the accounts or
    contracts the portal holds rows of (an emptied enrolment table lets go of all of them). Measured against what the
    entities hold, so once an allowed run removed them, the next runs measure from there."""
    if guard is None or guard.allowed:
        return
    with target.cursor(binary=True) as cursor:  # binary arrays decode in C
        accounts, contracts = cursor.execute(
            sqlfiles.read("scope/select_portal_customers_and_contracts.sql"),
            {
                "members_id": after.members_id,
                "account_follows": _follows(catalogue.entity("account")),
                "contract_follows": _follows(catalogue.entity("contract")),
            },
        ).fetchone()
    for what, ids, now in (
        ("enrolled customer accounts", accounts, after.accounts),
        ("contracts", contracts, after.contracts),
    ):
        if ids is None:  # the entity is known to hold exactly the stored scope this one shares: nothing goes
            continue
        held = frozenset(ids)
        gone = len(held - now)
        if guard.trips(gone, len(held), guard.scope_floor):
            raise MassRemoval(
                f"the scope resolved now lets go of {gone:,} of the {len(held):,} {what} the portal holds rows of "
                f"({gone / len(held):.0%}; {len(after.accounts):,} enrolled accounts now): more than the guard allows "
                f"({guard.max_fraction:.0%} and more than {guard.scope_floor:,}) in one run. Nothing was written. "
                + advice.mass_removal(dag_id)
            )


# ---- resolving and persisting ---------------------------------------------------------------------------------


def resolve(
    source: Any,
    target: psycopg.Connection,
    dialect: str,
    *,
    customers: Sequence[int] | None = None,
    persist: bool = True,
    dag_id: str | None = None,
    run_id: str | None = None,
    guard: RemovalGuard | None = None,
) -> Scope:
    """Resolves the scope now: every enrolled customer's, or with `customers`, those re-read from ASPIRE on top of
    the newest resolved scope of everyone. Persisted (in its own transaction) unless `persist` is False. With
    `guard`, a scope of everyone that lets go of too much of the one before it is refused (MassRemoval)."""
    # the portal's snapshot with the time: which loads' take-ins this scope sees (it is read before the enrolment)
    resolved_at, snapshot = target.execute("select clock_timestamp(), cast(pg_current_snapshot() as text)").fetchone()
    bound = clock.read_bound(source, target, dialect)
    if customers is None:
        # ASPIRE computes the fingerprint while this thread reads the portal: ~50 ms each at large, one after the
        # other before. Only that thread uses the source until its result is in (leaving the pool waits for it).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="aspire-fingerprint") as pool:
            tables = pool.submit(_table_fingerprint, source, dialect)
            base = latest(target)
            enrolled = enrolment.enrolled_accounts(target)
            accounts, links, fingerprint, quarantined = _everyone(
                source, target, dialect, bound, base, tables.result(), enrolled
            )
    else:
        base = latest(target)
        accounts, links, quarantined = _customers(source, target, dialect, customers, base)
        fingerprint = None
    source.rollback()
    # a scope of everyone that came out as the newest one is that one's stored accounts and contracts (as storing
    # it would record): the guard need not read what an entity known to hold exactly those holds, and a full load
    # that leaves its entity holding them records so
    shared = (
        base if customers is None and base is not None and (accounts, links) == (base.accounts, base.links) else None
    )
    scope = Scope(
        accounts=accounts,
        links=links,
        read_bound=bound,
        resolved_at=resolved_at,
        customers=None if customers is None else frozenset(customers),
        members_of=shared.members_id if shared is not None else None,
        source_fingerprint=fingerprint,
        snapshot=snapshot,
        # a customer scope knows the others as its base did (their links are the base's); with no base, it read them
        others_snapshot=(base.snapshot if base is not None else snapshot) if customers is not None else None,
    )
    if shared is not None and links is shared.links:
        scope.__dict__["contracts"] = shared.contracts  # tens of thousands of links at scale: computed once
    if customers is None:
        guard_scope(target, guard, scope, dag_id)
    if persist:
        scope = persist_scope(target, scope, base, dag_id, run_id, quarantined)
    log.info(
        "Resolved the scope%s: %d enrolled account(s), %d in-scope contract(s), ASPIRE read bound %d",
        "" if customers is None else f" of customer(s) {sorted(customers)} on top of everyone's",
        len(scope.accounts),
        len(scope.contracts),
        bound,
    )
    return scope


def _everyone(
    source: Any,
    target: psycopg.Connection,
    dialect: str,
    bound: int,
    base: Scope | None,
    tables: dict[str, list],
    enrolled_and_bad: tuple[dict[int, int], list[enrolment.Quarantined]],
) -> tuple[frozenset[int], frozenset[Link], dict | None, list[enrolment.Quarantined]]:
    """Every enrolled customer's accounts and links, with the fingerprint of ASPIRE's scope tables they vouch for.

    ASPIRE gives every inserted or updated row a row version at or above the read bound of the moment, and a delete
    lowers a table's count: so when the scope tables (Account, Contract, ContractRole) have the same row counts and
    the same newest row version as when the base scope was read, and that newest version is below the bound the
    base was read below, they hold exactly the rows they held then, and the base's accounts and links still stand.
    Only the accounts the base has not seen (new enrolments, and values it quarantined) are read from ASPIRE.
    Otherwise everything is read. A read vouches for the tables only when every row it used is below its bound (a
    row inserted and deleted again while it read would otherwise stay in the scope unseen)."""
    enrolled, bad = enrolled_and_bad
    unchanged = (
        base is not None
        and base.source_fingerprint is not None
        and base.source_fingerprint["tables"] == tables
        and bound >= base.source_fingerprint["bound"]  # a counter that went back (a failover) vouches for nothing
    )
    if unchanged:
        vouched_below = base.source_fingerprint["bound"]
        known = base.accounts & enrolled.keys()
    else:
        vouched_below, known = bound, frozenset()
    unread = enrolled.keys() - known
    existing, newest_account = enrolment.existing_accounts(source, unread, dialect)
    checked, quarantined = enrolment.checked(enrolled, bad, unread - existing, everyone=True)
    accounts = frozenset(checked)
    read, newest_link = _links(source, accounts - known, dialect)
    links = frozenset(read)
    if unchanged and known == base.accounts:
        links = base.links | links if links else base.links  # the same object: compared and reused at no cost
    elif unchanged:
        links |= frozenset(link for link in base.links if link[1] in known)
    newest = max(newest_account, newest_link, *(tables[name][1] for name in tables if name != "timeline"))
    log.info(
        "ASPIRE's scope tables %s; read the links of %d of %d enrolled account(s) from ASPIRE",
        "are unchanged since the last scope (same counts, nothing newer)"
        if unchanged
        else "changed, or no scope vouches",
        len(accounts - known),
        len(accounts),
    )
    return (
        accounts,
        links,
        ({"bound": vouched_below, "tables": tables} if newest < vouched_below else None),
        quarantined,
    )


def _customers(
    source: Any, target: psycopg.Connection, dialect: str, customers: Sequence[int], base: Scope | None
) -> tuple[frozenset[int], frozenset[Link], list[enrolment.Quarantined]]:
    """The re-read customers' accounts and links on top of `base`, the newest scope of everyone."""
    enrolled, bad = enrolment.enrolled_accounts(target)
    asked = set(customers) & enrolled.keys()
    existing, _newest = enrolment.existing_accounts(source, asked, dialect)
    checked, quarantined = enrolment.checked(enrolled, bad, asked - existing, everyone=False)
    unknown = sorted({int(q.value) for q in quarantined if q.reason == enrolment.NO_ASPIRE_ACCOUNT} & set(customers))
    if unknown:
        raise NotEnrolled(
            f"customer(s) {unknown} name no ASPIRE account (their enrolment is quarantined); "
            "nothing of theirs is loaded"
        )
    missing = sorted(set(customers) - set(checked))
    if missing:
        raise NotEnrolled(
            f"customer(s) {missing} are not enrolled in the portal (no portal user is linked to "
            "them in portal.portal_user_account); nothing of theirs is loaded"
        )
    mine = frozenset(customers)
    still = set(checked)
    base_accounts = base.accounts if base else frozenset()
    base_links = base.links if base else frozenset()
    # Accounts enrolled since the base was resolved justify rows too (an invoice billed to one on these customers'
    # contract, a contract that went to one): the base has not seen them, so their links are read from ASPIRE, or
    # these customers' deletes would remove what those customers see until a run of everyone brought it back.
    since_base = frozenset(still) - base_accounts - mine
    accounts = frozenset(a for a in base_accounts if a in still) | mine | since_base
    read, _newest = _links(source, mine, dialect)
    read_since, _newest = _links(source, since_base, dialect)
    # A contract these customers had in the base and have no more may have gone to another enrolled customer since
    # the base was resolved, which the base cannot know: who holds it now is read from ASPIRE, so that this load's
    # deletes judge its rows by the present (they would otherwise remove what the other customer still sees).
    lost = {link[0] for link in base_links if link[1] in mine} - {link[0] for link in read}
    others = accounts - mine
    moved = [link for link in _links(source, lost, dialect, by="contracts")[0] if link[1] in others]
    links = frozenset(link for link in base_links if link[1] in accounts and link[1] not in mine)
    return accounts, links | frozenset(read) | frozenset(read_since) | frozenset(moved), quarantined


def _table_fingerprint(source: Any, dialect: str) -> dict[str, list]:
    """Each scope table's row count and newest row version (0 when empty), by table name, and ASPIRE's timeline."""
    with source.cursor() as cursor:
        cursor.execute(sqlfiles.render("extract/select_scope_fingerprint.sql", dialect=dialect))
        rows = cursor.fetchall()
    tables: dict[str, list] = {str(table): [int(count), int(newest or 0)] for table, count, newest, _g, _f in rows}
    tables["timeline"] = [str(rows[0][3]), str(rows[0][4])]
    return tables


def _links(source: Any, ids: Iterable[int], dialect: str, by: str = "accounts") -> tuple[list[Link], int]:
    """The links of accounts `ids` (or, `by` "contracts", of those contracts), and the newest row version among the
    rows they come from (0 for none)."""
    ids = sorted(ids)
    if not ids:
        return [], 0
    statement = sqlfiles.render("extract/select_scope_links.sql", dialect=dialect, by_contracts=by == "contracts")
    with source.cursor() as cursor:
        cursor.execute(statement, {by: json.dumps(ids)})
        rows = cursor.fetchall()
    return [(int(c), int(a), str(r)) for c, a, r, _v in rows], max((int(v) for *_link, v in rows), default=0)


def persist_scope(
    target: psycopg.Connection,
    scope: Scope,
    base: Scope | None,
    dag_id: str | None,
    run_id: str | None,
    quarantined: list[enrolment.Quarantined],
) -> Scope:
    """Writes the scope: as a pointer to the base's stored accounts and contracts when it came out the same, else
    the base's copied on the server with what differs sent, else all of it. Under the 'scope_resolution' lock row,
    with the forgetting of old resolutions, so the rows it points at or copies stay there."""
    with target.transaction():
        target.execute(sqlfiles.read("scope/lock_scope_resolutions.sql"))
        if base is not None and not _still_read(target, base):
            base = None  # (only when ASPIRE's clock or a long gap made everything older than three hours)
        shares = base is not None and (scope.accounts, scope.links) == (base.accounts, base.links)
        members_of = base.members_id if shares and base is not None else None
        resolution_id = target.execute(
            sqlfiles.read("scope/insert_scope_resolution.sql"),
            {
                "kind": "all" if scope.customers is None else "customers",
                "customers": None if scope.customers is None else sorted(scope.customers),
                "base_resolution_id": base.resolution_id if base else None,
                "dag_id": dag_id,
                "run_id": run_id,
                "read_bound": scope.read_bound,
                "resolved_at": scope.resolved_at,
                "accounts": len(scope.accounts),
                "contracts": len(scope.contracts),
                "members_of": members_of,
                "source_fingerprint": None if scope.source_fingerprint is None else Jsonb(scope.source_fingerprint),
                "snapshot": scope.snapshot,
                "others_snapshot": scope.others_snapshot,
            },
        ).fetchone()[0]
        if members_of is None and (base is None or not _copy_members(target, resolution_id, scope, base)):
            _write_members(target, resolution_id, scope.accounts, scope.links)
        if scope.customers is None:  # a resolution of everyone saw every enrolment value: the quarantine now
            target.execute(
                sqlfiles.read("scope/update_enrolment_quarantine.sql"),
                {
                    "values": [q.value for q in quarantined],
                    "reasons": [q.reason for q in quarantined],
                    "users": [q.portal_users for q in quarantined],
                    "run_id": run_id,
                },
            )
        target.execute(sqlfiles.read("scope/delete_old_scope_resolutions.sql"))
        target.execute(sqlfiles.read("clock/delete_old_aspire_clock.sql"))
    persisted = replace(
        scope,
        resolution_id=resolution_id,
        base_resolution_id=base.resolution_id if base else None,
        members_of=members_of,
    )
    persisted.__dict__["contracts"] = scope.contracts  # computed once: tens of thousands of links at scale
    return persisted


def _still_read(target: psycopg.Connection, base: Scope) -> bool:
    """Whether the base's stored accounts and contracts are still there (some resolution still reads them)."""
    return target.execute(sqlfiles.read("scope/select_members_read.sql"), {"members_id": base.members_id}).fetchone()[0]


def _copy_members(target: psycopg.Connection, resolution_id: int, scope: Scope, base: Scope) -> bool:
    """Writes the scope's accounts and links by copying the base resolution's on the server and sending only what
    differs (the accounts added, dropped or whose links changed, and the re-read customers). False, with nothing
    written, when the copy does not add up to the scope: then the caller sends the whole scope."""
    changed = (
        (base.accounts ^ scope.accounts)
        | (scope.customers or frozenset())
        | frozenset(account for _contract, account, _role in base.links ^ scope.links)
    )
    accounts, links = _write_members(
        target,
        resolution_id,
        scope.accounts - base.accounts,
        frozenset(link for link in scope.links if link[1] in changed),
        base_members_id=base.members_id,
        dropped=base.accounts - scope.accounts,
        changed=changed,
    )
    if (accounts, links) == (len(scope.accounts), len(scope.links)):
        return True
    log.warning(
        "The copy of scope resolution %d's accounts and contracts did not add up (%d of %d accounts, %d of %d "
        "contracts); writing the whole scope instead",
        base.resolution_id,
        accounts,
        len(scope.accounts),
        links,
        len(scope.links),
    )
    target.execute(sqlfiles.read("scope/delete_scope_members.sql"), {"resolution_id": resolution_id})
    return False


def _write_members(
    target: psycopg.Connection,
    resolution_id: int,
    accounts: Iterable[int],
    links: Iterable[Link],
    base_members_id: int | None = None,
    dropped: Iterable[int] = (),
    changed: Iterable[int] = (),
) -> tuple[int, int]:
    """Inserts accounts and links of a resolution (plus the base's, but `dropped` accounts and the links of the
    `changed` ones); how many of each it wrote."""
    links = sorted(links)
    written_accounts = target.execute(
        sqlfiles.read("scope/insert_scope_accounts.sql"),
        {
            "resolution_id": resolution_id,
            "accounts": sorted(accounts),
            "base_members_id": base_members_id,
            "dropped": sorted(dropped),
        },
    ).rowcount
    written_links = target.execute(
        sqlfiles.read("scope/insert_scope_contracts.sql"),
        {
            "resolution_id": resolution_id,
            "contracts": [c for c, _a, _r in links],
            "accounts": [a for _c, a, _r in links],
            "roles": [r for _c, _a, r in links],
            "base_members_id": base_members_id,
            "changed": sorted(changed),
        },
    ).rowcount
    return written_accounts, written_links


def for_run(target: psycopg.Connection, dag_id: str | None, run_id: str | None) -> Scope | None:
    """The scope this run resolved, or None when it resolved none (or it was forgotten)."""
    if run_id is None:
        return None
    return load_resolution(
        target, sqlfiles.render("scope/select_scope_resolution.sql", by_run=True), {"dag_id": dag_id, "run_id": run_id}
    )


def latest(target: psycopg.Connection) -> Scope | None:
    """The newest scope resolved for every enrolled customer, or None before the first."""
    return load_resolution(target, sqlfiles.render("scope/select_scope_resolution.sql", by_run=False), {})


def load_resolution(target: psycopg.Connection, statement: str, parameters: dict) -> Scope | None:
    row = target.execute(statement, parameters).fetchone()
    if row is None:
        return None
    (
        resolution_id,
        customers,
        base_resolution_id,
        read_bound,
        resolved_at,
        members_id,
        fingerprint,
        snapshot,
        others_snapshot,
        *counted,
    ) = row
    with target.cursor(binary=True) as cursor:  # the ids as arrays in one row: binary arrays decode in C
        accounts, contracts, owners, roles = cursor.execute(
            sqlfiles.read("scope/select_scope_members.sql"), {"members_id": members_id}
        ).fetchone()
    accounts, distinct_contracts = frozenset(accounts), frozenset(contracts)
    if [len(accounts), len(distinct_contracts)] != counted:
        # another run's clean-up forgot the stored rows between the two reads: a scope read in part is no scope
        log.warning(
            "Scope resolution %d's stored accounts and contracts were forgotten while being read; not using it",
            resolution_id,
        )
        return None
    links = frozenset(zip(contracts, owners, roles, strict=True))
    resolution = Scope(
        accounts=accounts,
        links=links,
        read_bound=read_bound,
        resolved_at=resolved_at,
        resolution_id=resolution_id,
        customers=None if customers is None else frozenset(customers),
        base_resolution_id=base_resolution_id,
        members_of=None if members_id == resolution_id else members_id,
        source_fingerprint=fingerprint,
        snapshot=snapshot,
        others_snapshot=others_snapshot,
    )
    resolution.__dict__["contracts"] = distinct_contracts  # from the array: faster than from the links
    return resolution


# ---- what an entity holds, and the plan of one load -------------------------------------------------------------


def held(target: psycopg.Connection, entity: Entity, resolved: Scope, *, use_marker: bool = True) -> Held:
    """What `entity` holds rows of, and what of it was taken in by a load `resolved` cannot know (Scope.taken_by).
    With `use_marker`, when the entity's held state is known to equal `resolved`'s stored scope (a load of that scope
    recorded it, and nothing changed it since), it is not read: nothing in it can then be an entry, an exit or taken
    in beyond the scope."""
    marker = None
    if use_marker and resolved.members_id is not None:
        row = target.execute(sqlfiles.read("scope/select_entity_scope_state.sql"), {"entity": entity.name}).fetchone()
        marker = row[0] if row and row[1] == _follows(entity) else None
        if marker == resolved.members_id:
            return Held(*expected_held(entity, resolved), members_id=marker, version=row[2])
    with target.cursor(binary=True) as cursor:  # binary arrays decode in C
        *ids, version = cursor.execute(
            sqlfiles.render("scope/select_entity_scope.sql", taken_by=resolved.taken_by),
            {"entity": entity.name, "taken_from": resolved.taken_from},
        ).fetchone()
    return Held(*(frozenset(i) for i in ids), members_id=marker, version=version or 0)


def record_held(target: psycopg.Connection, entity: Entity, plan: Plan, state: Held, resolved: Scope) -> None:
    """Writes the entity's held state as the plan leaves it, in the caller's (the load's) transaction, and what it is
    known to equal: `resolved`'s stored scope when it comes out exactly that, and no other load changed the held
    state since `state` was read (the state row, locked first by every writer, tells)."""
    adds, drops = (plan.add_accounts, plan.add_contracts), (plan.drop_accounts, plan.drop_contracts)
    changes = any(adds) or any(drops)
    after = (
        (state.accounts | frozenset(plan.add_accounts)) - frozenset(plan.drop_accounts),
        (state.contracts | frozenset(plan.add_contracts)) - frozenset(plan.drop_contracts),
    )
    members_id = resolved.members_id
    equal = members_id is not None and after == expected_held(entity, resolved)
    if plan.renew_accounts or plan.renew_contracts:  # the held rows stay as they are: no state row to lock
        target.execute(
            sqlfiles.read("scope/renew_entity_scope.sql"),
            {
                "entity": entity.name,
                "accounts": list(plan.renew_accounts),
                "contracts": list(plan.renew_contracts),
                "since": resolved.resolved_at,
            },
        )
    if not changes and not (equal and state.members_id != members_id):
        return  # nothing changes, and what is known of the held state stands
    _marker, _follows_then, version = target.execute(
        sqlfiles.read("scope/lock_entity_scope_state.sql"), {"entity": entity.name}
    ).fetchone()
    unchanged_since_read = version == state.version
    if not changes and not unchanged_since_read:
        return  # another load changed it since: what it recorded stands
    if changes:
        target.execute(
            sqlfiles.read("scope/update_entity_scope.sql"),
            {
                "entity": entity.name,
                "add_accounts": list(plan.add_accounts),
                "add_contracts": list(plan.add_contracts),
                "drop_accounts": list(plan.drop_accounts),
                "drop_contracts": list(plan.drop_contracts),
                "since": resolved.resolved_at,
            },
        )
    target.execute(
        sqlfiles.read("scope/update_entity_scope_state.sql"),
        {
            "entity": entity.name,
            "members_id": members_id if equal and unchanged_since_read else None,
            "follows": _follows(entity),
            "changes": 1 if changes else 0,
        },
    )


def _follows(entity: Entity) -> str:
    """What the entity's held state follows, as the state row records it."""
    return ",".join(
        kind for kind, yes in (("accounts", entity.follows_accounts), ("contracts", entity.follows_contracts)) if yes
    )


def contracts_before(target: psycopg.Connection, scope: Scope) -> frozenset[int]:
    """The contracts the re-read customers held in scope before this run (in the scope it was built on and in the
    newest scope of everyone), read for those customers only."""
    rows = target.execute(
        sqlfiles.read("scope/select_contracts_before.sql"),
        {"customers": sorted(scope.customers or ()), "base_resolution_id": scope.base_resolution_id},
    )
    return frozenset(row[0] for row in rows)
