"""The pure planners: from a resolved scope and what an entity holds, what one load reads, deletes and records, and
the extract passes that read it. No database here: each planner is a function of its inputs, tested in milliseconds.

Entries (in scope, not held yet) are read in full; exits (held, out of scope now) are deleted unless something the
plan keeps still justifies the row; the entity's held state after the load is what the plan adds and drops
(docs/adr/0002-scope-as-state.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property

from aspire_portal.catalogue import Entity
from aspire_portal.model import LoadKind, LoadRequest

Link = tuple[int, int, str]  # (contract_oid, account_oid, role_type)
Pass = tuple[LoadKind, tuple[int, ...], tuple[int, ...]]  # (kind, accounts, contracts) of one extract


SEES_NO_TRANSACTION = "1:1:"
"""A pg_snapshot that sees no transaction: whatever a load took in counts as beyond what such a scope knows."""


@dataclass(frozen=True)
class Scope:
    """One resolved scope. `customers`: the accounts re-read from ASPIRE on top of the newest scope of everyone
    (None: everyone was read). `members_of`: the resolution whose stored accounts and contracts it shares (an
    identical scope), None for its own. `source_fingerprint`: what ASPIRE's scope tables looked like when it was read
    (see aspire_portal.scope), None when that read cannot vouch for them. `snapshot`: the portal's snapshot when it
    was resolved; `others_snapshot`: for a customer scope, the snapshot it knows the other customers by (its base's).
    What other loads took in that it cannot know stays (`taken_by`, `taken_from`)."""

    accounts: frozenset[int]
    links: frozenset[Link]
    read_bound: int
    resolved_at: datetime
    resolution_id: int | None = None
    customers: frozenset[int] | None = None
    base_resolution_id: int | None = None
    members_of: int | None = None
    source_fingerprint: dict | None = None
    snapshot: str | None = None
    others_snapshot: str | None = None

    @property
    def taken_by(self) -> str:
        """How this scope tells what other loads took in that it cannot know (see macros/held.sql): a scope of
        everyone, by the resolution of the scope that took it in ("since": a newer one saw more); a customer scope,
        by the transaction that took it in ("taken_xid": one its others_snapshot does not see committed after the
        base it knows the other customers by)."""
        return "since" if self.customers is None else "taken_xid"

    @property
    def taken_from(self) -> datetime | str:
        """The value `taken_by` is judged against: this scope's resolution, or the snapshot it knows the others by
        (one that sees no transaction when that is unknown: a base resolved before snapshots were kept)."""
        if self.customers is None:
            return self.resolved_at
        return self.others_snapshot or SEES_NO_TRANSACTION

    @property
    def members_id(self) -> int | None:
        """The resolution whose stored accounts and contracts are this scope's."""
        return self.members_of or self.resolution_id

    @cached_property
    def contracts(self) -> frozenset[int]:
        return frozenset(contract for contract, _account, _role in self.links)

    @cached_property
    def sorted_accounts(self) -> tuple[int, ...]:
        """The accounts in order, sorted once for every load of the run that reads them all."""
        return tuple(sorted(self.accounts))

    @cached_property
    def sorted_contracts(self) -> tuple[int, ...]:
        return tuple(sorted(self.contracts))

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
    members_id: int | None = None  # the stored scope the held state was known to equal when read (None: unknown)
    version: int = 0  # how many times the held state had changed when read


def expected_held(entity: Entity, scope: Scope) -> tuple[frozenset[int], frozenset[int]]:
    """What an entity holds after a load of `scope` that kept nothing back: the scope's accounts and contracts, as
    far as the entity follows them."""
    return (
        scope.accounts if entity.follows_accounts else frozenset(),
        scope.contracts if entity.follows_contracts else frozenset(),
    )


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
    renew_accounts: tuple[int, ...] = ()  # held already, and in scope as of this load's scope (see plan_customers)
    renew_contracts: tuple[int, ...] = ()
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


def plan_changes(entity: Entity, scope: Scope, state: Held) -> Plan:
    """An incremental, backfill or scope-only load: the window is read for the resolved scope plus what the
    entity took in after it was resolved; entries are read in full; exits are deleted."""
    taken_accounts, taken_contracts = state.taken_accounts, state.taken_contracts
    accounts, contracts = expected_held(entity, scope)
    new_accounts = sorted(accounts - state.accounts)
    new_contracts = sorted(contracts - state.contracts)
    gone_accounts = sorted(state.accounts - accounts - taken_accounts)
    gone_contracts = sorted(state.contracts - contracts - taken_contracts)
    return Plan(
        accounts=_sorted_union(accounts, scope.sorted_accounts if accounts else (), taken_accounts),
        contracts=_sorted_union(contracts, scope.sorted_contracts if contracts else (), taken_contracts),
        new_accounts=tuple(new_accounts),
        new_contracts=tuple(new_contracts),
        gone_accounts=tuple(gone_accounts),
        gone_contracts=tuple(gone_contracts),
        keep_accounts=scope.accounts | taken_accounts if taken_accounts else scope.accounts,
        keep_contracts=scope.contracts | taken_contracts if taken_contracts else scope.contracts,
        add_accounts=tuple(new_accounts),
        add_contracts=tuple(new_contracts),
        drop_accounts=tuple(gone_accounts),
        drop_contracts=tuple(gone_contracts),
        held_accounts=len(state.accounts),
        held_contracts=len(state.contracts),
    )


def _sorted_union(ids: frozenset[int], in_order: tuple[int, ...], more: frozenset[int]) -> tuple[int, ...]:
    """`ids` and `more` in order; `in_order` is `ids` sorted (the scope's, sorted once per run)."""
    return in_order if not more - ids else tuple(sorted(ids | more))


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
    # what these customers hold already is dated again by this scope: a run whose scope is older (it did not see
    # their enrolment, or a role they took) then keeps it rather than judging it by what it knew
    renew = entity.owner != "shared"
    return Plan(
        accounts=tuple(sorted(mine)) if entity.follows_accounts else (),
        contracts=tuple(sorted(now_contracts)) if entity.follows_contracts else (),
        gone_accounts=tuple(sorted(mine)) if entity.follows_accounts else (),
        gone_contracts=tuple(sorted(own_contracts)) if entity.follows_contracts else (),
        keep_accounts=keep_accounts,
        keep_contracts=keep_contracts,
        add_accounts=tuple(sorted(mine - state.accounts)) if entity.follows_accounts else (),
        add_contracts=tuple(sorted(now_contracts - state.contracts)) if entity.follows_contracts else (),
        renew_accounts=tuple(sorted(mine & state.accounts)) if entity.follows_accounts and renew else (),
        renew_contracts=tuple(sorted(now_contracts & state.contracts)) if entity.follows_contracts and renew else (),
        # shared reference data is never deleted by a load of some customers: what it held stays held, and the
        # next 15-minute run (which reads it whole for everyone) lets go of it
        drop_contracts=tuple(lost) if entity.follows_contracts and entity.owner != "shared" else (),
        held_accounts=len(state.accounts),
        held_contracts=len(state.contracts),
    )


def plan_everyone(entity: Entity, scope: Scope, state: Held) -> Plan:
    """A full load over every enrolled customer: it reads the whole scope and deletes everything else, so the
    entity holds exactly that scope afterwards."""
    accounts, contracts = expected_held(entity, scope)
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


def extract_passes(
    entity: Entity, request: LoadRequest, plan: Plan, watermark: int | None, retry: Sequence[int] = ()
) -> list[Pass]:
    """The extracts a load runs, each (kind, accounts, contracts): the whole scope (full); the changes in the
    window (incremental, backfill) and, in full, what entered the scope; or only what entered (scope). A first
    window (from row version 0) holds every row already, entries included. Shared reference data (scenarios) is read
    whole for what the scope uses (a handful of rows) by every load but a full one: a contract that left the scope,
    or moved to another scenario, leaves a row no contract uses any more, which its delete can then see.
    Quarantined rows (`retry`: their first key column) are read again by key, so they load on the first run after
    ASPIRE fixed them; a full load reads them with the rest."""
    if request.kind == "full":
        return [("full", plan.accounts, plan.contracts)]
    if entity.owner == "shared":
        return [("full", (), tuple(sorted(plan.keep_contracts)))]
    passes: list[Pass] = []
    if request.kind in ("incremental", "backfill"):
        passes.append((request.kind, plan.accounts, plan.contracts))
    if plan.has_entries and not (request.kind == "incremental" and watermark == 0):
        passes.append(("full", plan.new_accounts, plan.new_contracts))
    if retry:
        passes.append(("retry", plan.accounts, plan.contracts))
    return passes
