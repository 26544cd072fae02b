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
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any

import psycopg

from aspire_portal import sqlfiles
from aspire_portal.catalogue import Entity
from aspire_portal.validation import account_oid_from_text

log = logging.getLogger(__name__)

Link = tuple[int, int, str]  # (contract_oid, account_oid, role_type)


class NotEnrolled(ValueError):
    """A load was asked for customers no portal user is linked to: their data must not enter the portal."""


@dataclass(frozen=True)
class Scope:
    """One resolved scope. `customers`: the accounts re-read from ASPIRE on top of the newest scope of everyone
    (None: everyone was read)."""

    accounts: frozenset[int]
    links: frozenset[Link]
    read_bound: int
    resolved_at: datetime
    resolution_id: int | None = None
    customers: frozenset[int] | None = None
    base_resolution_id: int | None = None

    @cached_property
    def contracts(self) -> frozenset[int]:
        return frozenset(contract for contract, _account, _role in self.links)

    def contracts_of(self, accounts: Iterable[int]) -> frozenset[int]:
        wanted = set(accounts)
        return frozenset(contract for contract, account, _role in self.links if account in wanted)

    @cached_property
    def customers_contracts(self) -> frozenset[int]:
        """The contracts the re-read customers bring into scope."""
        return self.contracts_of(self.customers or ())

    @cached_property
    def others(self) -> tuple[frozenset[int], frozenset[int]]:
        """The accounts and contracts that justify rows without the re-read customers."""
        mine = self.customers or frozenset()
        return self.accounts - mine, frozenset(c for c, a, _r in self.links if a not in mine)


@dataclass(frozen=True)
class Held:
    """What one entity holds rows of, and which of them it took in at or after a moment (the resolved scope's
    time: by a load that scope predates)."""

    accounts: frozenset[int] = frozenset()
    contracts: frozenset[int] = frozenset()
    taken_accounts: frozenset[int] = frozenset()
    taken_contracts: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Plan:
    """What one load reads, deletes and records, from the scope and what the entity holds."""

    accounts: tuple[int, ...]  # the scope the load reads (window pass, or the whole of a full load)
    contracts: tuple[int, ...]
    new_accounts: tuple[int, ...] = ()  # entries: read in full by a second pass
    new_contracts: tuple[int, ...] = ()
    gone_accounts: tuple[int, ...] = ()  # candidates for deletion: exits, or the re-read customers' own
    gone_contracts: tuple[int, ...] = ()
    keep_accounts: frozenset[int] = frozenset()  # what still justifies a candidate row
    keep_contracts: frozenset[int] = frozenset()
    add_accounts: tuple[int, ...] = ()  # the entity's held state after the load
    add_contracts: tuple[int, ...] = ()
    drop_accounts: tuple[int, ...] = ()
    drop_contracts: tuple[int, ...] = ()
    held_accounts: int = 0  # how many accounts and contracts the entity held before the load (mass-removal guard)
    held_contracts: int = 0

    @property
    def lets_go(self) -> bool:
        """Whether the load lets go of accounts or contracts the entity holds."""
        return bool(self.drop_accounts or self.drop_contracts)

    def keeping(self, accounts: frozenset[int], contracts: frozenset[int]) -> Plan:
        """The plan, still holding `accounts` and `contracts` (the portal kept rows of them): the entity never lets go
        of an account or contract while the portal holds a row of it, so a later run looks at it again."""
        if not (accounts or contracts):
            return self
        return replace(
            self,
            drop_accounts=tuple(a for a in self.drop_accounts if a not in accounts),
            drop_contracts=tuple(c for c in self.drop_contracts if c not in contracts),
        )

    @property
    def has_entries(self) -> bool:
        return bool(self.new_accounts or self.new_contracts)

    @property
    def has_exits(self) -> bool:
        return bool(self.gone_accounts or self.gone_contracts)


# ---- the mass-removal guard -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemovalGuard:
    """How much one load may remove before it refuses (writing nothing): more than `max_fraction` of an entity's rows
    and more than `floor` rows; or more than `max_fraction` of the accounts (or of the contracts) the entity holds and
    more than `scope_floor` of them. The floors keep a small portal's ordinary exits from tripping it. `allowed`: a
    person allowed this run a mass removal (the DAG param allow_mass_removal)."""

    max_fraction: float = 0.2
    floor: int = 50
    scope_floor: int = 5
    allowed: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.max_fraction <= 1:
            raise ValueError(
                f"the largest fraction a load may remove must be above 0 and at most 1, got {self.max_fraction!r}"
            )
        if self.floor < 0 or self.scope_floor < 0:
            raise ValueError(f"the mass-removal floors must be 0 or more, got {self.floor!r} and {self.scope_floor!r}")

    def trips(self, removed: int, total: int, floor: int | None = None) -> bool:
        floor = self.floor if floor is None else floor
        return not self.allowed and removed > floor and removed > self.max_fraction * total


class MassRemoval(RuntimeError):
    """A load would have removed more than its RemovalGuard allows; nothing was written."""


MASS_REMOVAL_ADVICE = (
    "Likely cause: portal.portal_user_account was emptied or changed (a portal deploy), or ASPIRE returned far fewer "
    "rows than before (a wrong database or view). Check both (python -m aspire_portal status; select count(*) from "
    "portal.portal_user_account). If the removal is real, allow it for one run: airflow dags trigger {dag} --conf "
    "'{{\"allow_mass_removal\": true}}' (the form's \"Allow a mass removal\"). See the runbook, 'A load refused a "
    "mass removal'."
)


def guard_scope(target: psycopg.Connection, guard: RemovalGuard | None, after: Scope, dag_id: str | None) -> None:
    """Refuses, before anything is written, a scope of everyone that lets go of too many of the accounts or
    contracts the portal holds rows of (an emptied enrolment table lets go of all of them). Measured against what the
    entities hold, so once an allowed run removed them, the next runs measure from there."""
    if guard is None or guard.allowed:
        return
    with target.cursor(binary=True) as cursor:  # binary arrays decode in C
        accounts, contracts = cursor.execute(sqlfiles.read("sync/select_portal_customers_and_contracts.sql")).fetchone()
    for what, held, now in (
        ("enrolled customer accounts", frozenset(accounts), after.accounts),
        ("contracts", frozenset(contracts), after.contracts),
    ):
        gone = len(held - now)
        if guard.trips(gone, len(held), guard.scope_floor):
            raise MassRemoval(
                f"the scope resolved now lets go of {gone:,} of the {len(held):,} {what} the portal holds rows of "
                f"({gone / len(held):.0%}; {len(after.accounts):,} enrolled accounts now): more than the guard allows "
                f"({guard.max_fraction:.0%} and more than {guard.scope_floor:,}) in one run. Nothing was written. "
                + MASS_REMOVAL_ADVICE.format(dag=dag_id or "<dag>")
            )


# ---- resolving and persisting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quarantined:
    """A value of portal.portal_user_account.account_oid the sync skips: `value` as text, why, and how many portal
    users it links."""

    value: str
    reason: str
    portal_users: int


NOT_AN_ACCOUNT_OID = "not a whole number from 1 to 9223372036854775807 (an ASPIRE AccountOid)"
NO_ASPIRE_ACCOUNT = "names no ASPIRE account (no dbo.Account row with this AccountOid)"


class EnrolmentUnreadable(RuntimeError):
    """Every value of the portal's enrolment table was skipped: the table changed (its type, its meaning) or the
    sync reads the wrong ASPIRE. Resolving to an empty scope would remove every customer from the portal."""


def enrolled_accounts(target: psycopg.Connection) -> tuple[dict[int, int], list[Quarantined]]:
    """The enrolled accounts from the portal's link table (with how many portal users each), and the values skipped
    because they spell no AccountOid. The table is the portal's, input from outside the sync: each value is read by
    what it spells, not by the column's type (any integer type, a numeric without a fraction, text of digits), and
    one bad row is skipped, never fatal to the others."""
    good: dict[int, int] = {}
    bad = []
    for value, users in target.execute(sqlfiles.read("sync/select_enrolled_accounts.sql")):
        oid = account_oid_from_text(value)
        if oid is None:
            bad.append(Quarantined("(null)" if value is None else str(value), NOT_AN_ACCOUNT_OID, users))
        else:  # '42' and '42.00' spell the same account
            good[oid] = good.get(oid, 0) + users
    return good, bad


def _without_aspire_account(source: Any, accounts: Iterable[int], dialect: str) -> set[int]:
    """The accounts that name no ASPIRE account."""
    accounts = sorted(accounts)
    if not accounts:
        return set()
    with source.cursor() as cursor:
        cursor.execute(
            sqlfiles.render("extract/select_existing_accounts.sql", dialect=dialect), {"accounts": json.dumps(accounts)}
        )
        existing = {int(row[0]) for row in cursor.fetchall()}
    return set(accounts) - existing


def _checked_enrolment(
    source: Any,
    target: psycopg.Connection,
    dialect: str,
    customers: Sequence[int] | None,
) -> tuple[tuple[int, ...], list[Quarantined]]:
    """The enrolled accounts ASPIRE knows, and every enrolment value skipped (quarantined), each with a warning.
    With `customers`, only they are looked up in ASPIRE (the others come from the newest scope of everyone, which
    checked them)."""
    enrolled, bad = enrolled_accounts(target)
    unknown = _without_aspire_account(
        source, enrolled if customers is None else set(customers) & enrolled.keys(), dialect
    )
    if customers is None and bad and not enrolled:
        raise EnrolmentUnreadable(
            f"every one of the {len(bad)} enrolment value(s) in portal.portal_user_account.account_oid was skipped "
            f"({bad[0].value!r}: {bad[0].reason}): did the portal change the column's type or meaning? Resolving them "
            "to an empty scope would remove every customer from the portal, so nothing is loaded. Check the table; "
            "see the runbook, 'Every enrolment value is quarantined'."
        )
    if customers is None and enrolled and not set(enrolled) - unknown:
        raise EnrolmentUnreadable(
            f"none of the {len(enrolled)} enrolled account(s) in portal.portal_user_account names an ASPIRE account "
            f"(e.g. {min(enrolled)}): does the aspire connection point at the right ASPIRE database? Resolving them to "
            "an empty scope would remove every customer from the portal, so nothing is loaded."
        )
    bad += [Quarantined(str(oid), NO_ASPIRE_ACCOUNT, enrolled[oid]) for oid in sorted(unknown)]
    for item in bad:
        log.warning(
            "Skipped the enrolment of account_oid %s in portal.portal_user_account (%d portal user(s)): "
            "it is %s. Every other customer syncs; see aspire_sync.enrolment_quarantine.",
            item.value,
            item.portal_users,
            item.reason,
        )
    return tuple(a for a in enrolled if a not in unknown), bad


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
    from aspire_portal import engine

    resolved_at = target.execute("select clock_timestamp()").fetchone()[0]
    bound = engine.read_bound(source, target, dialect)
    enrolled, quarantined = _checked_enrolment(source, target, dialect, customers)
    if customers is None:
        accounts = frozenset(enrolled)
        links = frozenset(_links(source, accounts, dialect))
        base = None
    else:
        unknown = sorted({int(q.value) for q in quarantined if q.reason == NO_ASPIRE_ACCOUNT} & set(customers))
        if unknown:
            raise NotEnrolled(
                f"customer(s) {unknown} name no ASPIRE account (their enrolment is quarantined); "
                "nothing of theirs is loaded"
            )
        missing = sorted(set(customers) - set(enrolled))
        if missing:
            raise NotEnrolled(
                f"customer(s) {missing} are not enrolled in the portal (no portal user is linked to "
                "them in portal.portal_user_account); nothing of theirs is loaded"
            )
        base = latest(target)
        mine = frozenset(customers)
        still = set(enrolled)
        base_accounts = base.accounts if base else frozenset()
        base_links = base.links if base else frozenset()
        accounts = frozenset(a for a in base_accounts if a in still) | mine
        links = frozenset(link for link in base_links if link[1] in accounts and link[1] not in mine) | frozenset(
            _links(source, mine, dialect)
        )
    source.rollback()
    scope = Scope(
        accounts=accounts,
        links=links,
        read_bound=bound,
        resolved_at=resolved_at,
        customers=None if customers is None else frozenset(customers),
    )
    if customers is None:
        guard_scope(target, guard, scope, dag_id)
    if persist:
        scope = _persist(target, scope, base, dag_id, run_id, quarantined)
    log.info(
        "Resolved the scope%s: %d enrolled account(s), %d in-scope contract(s), ASPIRE read bound %d",
        "" if customers is None else f" of customer(s) {sorted(customers)} on top of everyone's",
        len(scope.accounts),
        len(scope.contracts),
        bound,
    )
    return scope


def _links(source: Any, accounts: Iterable[int], dialect: str) -> list[Link]:
    statement = sqlfiles.render("extract/select_scope_links.sql", dialect=dialect)
    with source.cursor() as cursor:
        cursor.execute(statement, {"accounts": json.dumps(sorted(accounts))})
        return [(int(c), int(a), str(r)) for c, a, r in cursor.fetchall()]


def _persist(
    target: psycopg.Connection,
    scope: Scope,
    base: Scope | None,
    dag_id: str | None,
    run_id: str | None,
    quarantined: list[Quarantined],
) -> Scope:
    with target.transaction():
        resolution_id = target.execute(
            sqlfiles.read("sync/insert_scope_resolution.sql"),
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
            },
        ).fetchone()[0]
        if base is None or not _copy_members(target, resolution_id, scope, base):
            _write_members(target, resolution_id, scope.accounts, scope.links)
        if scope.customers is None:  # a resolution of everyone saw every enrolment value: the quarantine now
            target.execute(
                sqlfiles.read("sync/update_enrolment_quarantine.sql"),
                {
                    "values": [q.value for q in quarantined],
                    "reasons": [q.reason for q in quarantined],
                    "users": [q.portal_users for q in quarantined],
                    "run_id": run_id,
                },
            )
        target.execute(sqlfiles.read("sync/delete_old_scope_resolutions.sql"))
        target.execute(sqlfiles.read("sync/delete_old_aspire_clock.sql"))
    return replace(scope, resolution_id=resolution_id, base_resolution_id=base.resolution_id if base else None)


def _copy_members(target: psycopg.Connection, resolution_id: int, scope: Scope, base: Scope) -> bool:
    """Writes the scope's accounts and links by copying the base resolution's on the server and sending only what
    differs (the re-read customers, mostly). False, with nothing written, when the copy does not add up to the
    scope (the base's rows were forgotten meanwhile by another run): then the caller sends the whole scope."""
    changed = (base.accounts ^ scope.accounts) | (scope.customers or frozenset())
    accounts, links = _write_members(
        target,
        resolution_id,
        scope.accounts - base.accounts,
        frozenset(link for link in scope.links if link[1] in changed),
        base_resolution_id=base.resolution_id,
        dropped=base.accounts - scope.accounts,
        changed=changed,
    )
    if (accounts, links) == (len(scope.accounts), len(scope.links)):
        return True
    log.warning(
        "The scope resolution %d this one is built on was forgotten while it was copied (%d of %d accounts, "
        "%d of %d contracts); writing the whole scope instead",
        base.resolution_id,
        accounts,
        len(scope.accounts),
        links,
        len(scope.links),
    )
    target.execute(sqlfiles.read("sync/delete_scope_members.sql"), {"resolution_id": resolution_id})
    return False


def _write_members(
    target: psycopg.Connection,
    resolution_id: int,
    accounts: Iterable[int],
    links: Iterable[Link],
    base_resolution_id: int | None = None,
    dropped: Iterable[int] = (),
    changed: Iterable[int] = (),
) -> tuple[int, int]:
    """Inserts accounts and links of a resolution (plus the base's, but `dropped` accounts and the links of the
    `changed` ones); how many of each it wrote."""
    links = sorted(links)
    written_accounts = target.execute(
        sqlfiles.read("sync/insert_scope_accounts.sql"),
        {
            "resolution_id": resolution_id,
            "accounts": sorted(accounts),
            "base_resolution_id": base_resolution_id,
            "dropped": sorted(dropped),
        },
    ).rowcount
    written_links = target.execute(
        sqlfiles.read("sync/insert_scope_contracts.sql"),
        {
            "resolution_id": resolution_id,
            "contracts": [c for c, _a, _r in links],
            "accounts": [a for _c, a, _r in links],
            "roles": [r for _c, _a, r in links],
            "base_resolution_id": base_resolution_id,
            "changed": sorted(changed),
        },
    ).rowcount
    return written_accounts, written_links


def for_run(target: psycopg.Connection, dag_id: str | None, run_id: str | None) -> Scope | None:
    """The scope this run resolved, or None when it resolved none (or it was forgotten)."""
    if run_id is None:
        return None
    return _load(
        target, sqlfiles.render("sync/select_scope_resolution.sql", by_run=True), {"dag_id": dag_id, "run_id": run_id}
    )


def latest(target: psycopg.Connection) -> Scope | None:
    """The newest scope resolved for every enrolled customer, or None before the first."""
    return _load(target, sqlfiles.render("sync/select_scope_resolution.sql", by_run=False), {})


def _load(target: psycopg.Connection, statement: str, parameters: dict) -> Scope | None:
    row = target.execute(statement, parameters).fetchone()
    if row is None:
        return None
    resolution_id, customers, base_resolution_id, read_bound, resolved_at = row
    with target.cursor(binary=True) as cursor:  # the ids as arrays in one row: binary arrays decode in C
        accounts, contracts, owners, roles = cursor.execute(
            sqlfiles.read("sync/select_scope_members.sql"), {"resolution_id": resolution_id}
        ).fetchone()
    accounts = frozenset(accounts)
    links = frozenset(zip(contracts, owners, roles, strict=True))
    return Scope(
        accounts=accounts,
        links=links,
        read_bound=read_bound,
        resolved_at=resolved_at,
        resolution_id=resolution_id,
        customers=None if customers is None else frozenset(customers),
        base_resolution_id=base_resolution_id,
    )


# ---- what an entity holds, and the plan of one load -------------------------------------------------------------


def held(target: psycopg.Connection, entity: Entity, since: datetime) -> Held:
    """What `entity` holds rows of, and what of it was taken in at or after `since`."""
    with target.cursor(binary=True) as cursor:  # binary arrays decode in C
        row = cursor.execute(
            sqlfiles.read("sync/select_entity_scope.sql"), {"entity": entity.name, "since": since}
        ).fetchone()
    return Held(*(frozenset(ids) for ids in row))


def record_held(target: psycopg.Connection, entity: Entity, plan: Plan) -> None:
    """Writes the entity's held state as the plan leaves it, in the caller's (the load's) transaction."""
    target.execute(
        sqlfiles.read("sync/update_entity_scope.sql"),
        {
            "entity": entity.name,
            "add_accounts": list(plan.add_accounts),
            "add_contracts": list(plan.add_contracts),
            "drop_accounts": list(plan.drop_accounts),
            "drop_contracts": list(plan.drop_contracts),
        },
    )


def plan_changes(entity: Entity, scope: Scope, state: Held) -> Plan:
    """An incremental, backfill or scope-only load: the window is read for the resolved scope plus what the
    entity took in after it was resolved; entries are read in full; exits are deleted."""
    taken_accounts, taken_contracts = state.taken_accounts, state.taken_contracts
    accounts = scope.accounts if entity.follows_accounts else frozenset()
    contracts = scope.contracts if entity.follows_contracts else frozenset()
    new_accounts = sorted(accounts - state.accounts)
    new_contracts = sorted(contracts - state.contracts)
    gone_accounts = sorted(state.accounts - accounts - taken_accounts)
    gone_contracts = sorted(state.contracts - contracts - taken_contracts)
    return Plan(
        accounts=tuple(sorted(accounts | taken_accounts)),
        contracts=tuple(sorted(contracts | taken_contracts)),
        new_accounts=tuple(new_accounts),
        new_contracts=tuple(new_contracts),
        gone_accounts=tuple(gone_accounts),
        gone_contracts=tuple(gone_contracts),
        keep_accounts=scope.accounts | taken_accounts,
        keep_contracts=scope.contracts | taken_contracts,
        add_accounts=tuple(new_accounts),
        add_contracts=tuple(new_contracts),
        drop_accounts=tuple(gone_accounts),
        drop_contracts=tuple(gone_contracts),
        held_accounts=len(state.accounts),
        held_contracts=len(state.contracts),
    )


def contracts_before(target: psycopg.Connection, scope: Scope) -> frozenset[int]:
    """The contracts the re-read customers held in scope before this run (in the scope it was built on and in the
    newest scope of everyone), read for those customers only."""
    rows = target.execute(
        sqlfiles.read("sync/select_contracts_before.sql"),
        {"customers": sorted(scope.customers or ()), "base_resolution_id": scope.base_resolution_id},
    )
    return frozenset(row[0] for row in rows)


def plan_customers(entity: Entity, scope: Scope, state: Held, old_contracts: frozenset[int]) -> Plan:
    """A full load of the re-read customers: their whole scope is read; their own rows the extract does not
    return are deleted unless another account justifies them. Their own contracts are those they hold now and
    `old_contracts`, those the scope before this run gave them (:func:`contracts_before`)."""
    mine = scope.customers or frozenset()
    now_contracts = scope.customers_contracts
    others_accounts, others_contracts = scope.others
    taken_accounts, taken_contracts = state.taken_accounts, state.taken_contracts
    keep_accounts = others_accounts | (taken_accounts - mine)
    keep_contracts = others_contracts | (taken_contracts - now_contracts - old_contracts)
    own_contracts = now_contracts | old_contracts
    lost = sorted(c for c in old_contracts - now_contracts if c not in keep_contracts and c in state.contracts)
    return Plan(
        accounts=tuple(sorted(mine)) if entity.follows_accounts else (),
        contracts=tuple(sorted(now_contracts)) if entity.follows_contracts else (),
        gone_accounts=tuple(sorted(mine)) if entity.follows_accounts else (),
        gone_contracts=tuple(sorted(own_contracts)) if entity.follows_contracts else (),
        keep_accounts=keep_accounts,
        keep_contracts=keep_contracts,
        add_accounts=tuple(sorted(mine - state.accounts)) if entity.follows_accounts else (),
        add_contracts=tuple(sorted(now_contracts - state.contracts)) if entity.follows_contracts else (),
        # shared reference data is never deleted by a load of some customers: what it held stays held, and the
        # next 15-minute run (which reads it whole for everyone) lets go of it
        drop_contracts=tuple(lost) if entity.follows_contracts and entity.owner != "shared" else (),
        held_accounts=len(state.accounts),
        held_contracts=len(state.contracts),
    )


def plan_everyone(entity: Entity, scope: Scope, state: Held) -> Plan:
    """A full load over every enrolled customer: it reads the whole scope and deletes everything else, so the
    entity holds exactly that scope afterwards."""
    accounts = scope.accounts if entity.follows_accounts else frozenset()
    contracts = scope.contracts if entity.follows_contracts else frozenset()
    return Plan(
        accounts=tuple(sorted(accounts)),
        contracts=tuple(sorted(contracts)),
        add_accounts=tuple(sorted(accounts - state.accounts)),
        add_contracts=tuple(sorted(contracts - state.contracts)),
        drop_accounts=tuple(sorted(state.accounts - accounts)),
        drop_contracts=tuple(sorted(state.contracts - contracts)),
        held_accounts=len(state.accounts),
        held_contracts=len(state.contracts),
    )


def unjustified_invoices(source: Any, dialect: str, plan: Plan) -> list[int]:
    """The invoices, as ASPIRE has them now, billed to the plan's candidate accounts or raised on its candidate
    contracts, that nothing the plan keeps justifies: their detail lines may leave the portal."""
    if not plan.has_exits:
        return []
    short_lists, parameters = sqlfiles.id_lists(accounts=plan.gone_accounts, scoped_contracts=plan.gone_contracts)
    statement = sqlfiles.render(
        "extract/select_invoice_owners.sql",
        dialect=dialect,
        load_kind="full",
        scope_known=True,
        short_lists=short_lists,
    )
    with source.cursor() as cursor:
        cursor.execute(statement, parameters)
        rows = cursor.fetchall()
    return sorted(
        int(invoice)
        for invoice, account, contract in rows
        if int(account) not in plan.keep_accounts and (contract is None or int(contract) not in plan.keep_contracts)
    )
