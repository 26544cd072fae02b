"""The pure planners: what one load reads, deletes and holds, from a resolved scope and what its entity holds. No
database: each case is the planner's inputs and its answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aspire_portal import catalogue
from aspire_portal.model import LoadRequest, RemovalGuard
from aspire_portal.planning import Held, Scope, extract_passes, plan_changes, plan_customers, plan_everyone

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
INVOICE = catalogue.entity("invoice")
SCENARIO = catalogue.entity("contract_scenario")
ACCOUNT = catalogue.entity("account")


def scope(*links: tuple[int, int, str], accounts: set[int] | None = None, customers: set[int] | None = None) -> Scope:
    """A scope from its (contract, account, role) links; its accounts default to those the links name."""
    return Scope(
        accounts=frozenset(accounts if accounts is not None else {a for _c, a, _r in links}),
        links=frozenset(links),
        read_bound=1000,
        resolved_at=NOW,
        customers=None if customers is None else frozenset(customers),
    )


def test_an_incremental_reads_the_scope_and_takes_in_entries_and_lets_go_of_exits():
    now = scope((10, 1, "Customer"), (11, 2, "Guarantor"))
    held = Held(accounts=frozenset({1, 3}), contracts=frozenset({10, 12}))
    plan = plan_changes(INVOICE, now, held)
    assert plan.accounts == (1, 2) and plan.contracts == (10, 11)
    assert plan.new_accounts == (2,) and plan.new_contracts == (11,)
    assert plan.gone_accounts == (3,) and plan.gone_contracts == (12,)
    assert plan.add_accounts == (2,) and plan.drop_accounts == (3,) and plan.drop_contracts == (12,)
    assert plan.lets_go and plan.has_entries and plan.has_exits
    assert (plan.held_accounts, plan.held_contracts) == (2, 2)


def test_what_a_load_took_in_after_the_scope_was_resolved_is_neither_an_exit_nor_forgotten():
    """A customer full sync took account 3 in after this run resolved its scope: the run must not delete it."""
    now = scope((10, 1, "Customer"))
    held = Held(accounts=frozenset({1, 3}), contracts=frozenset({10}), taken_accounts=frozenset({3}))
    plan = plan_changes(INVOICE, now, held)
    assert plan.gone_accounts == () and 3 in plan.accounts and 3 in plan.keep_accounts
    assert not plan.lets_go


def test_an_entity_follows_only_what_it_is_owned_by():
    plan = plan_changes(ACCOUNT, scope((10, 1, "Customer")), Held())
    assert plan.accounts == (1,) and plan.contracts == ()


def test_a_full_load_over_everyone_holds_exactly_the_scope_afterwards():
    plan = plan_everyone(INVOICE, scope((10, 1, "Customer")), Held(frozenset({1, 2}), frozenset({10, 11})))
    assert plan.add_accounts == () and plan.drop_accounts == (2,) and plan.drop_contracts == (11,)


def test_a_customers_full_sync_deletes_only_its_own_rows_nothing_else_justifies():
    now = scope((10, 1, "Customer"), (10, 2, "Guarantor"), (11, 2, "Customer"), customers={2})
    held = Held(accounts=frozenset({1, 2}), contracts=frozenset({10, 11, 12}))
    plan = plan_customers(INVOICE, now, held, old_contracts=frozenset({11, 12}))
    assert plan.accounts == (2,) and plan.contracts == (10, 11)
    assert plan.gone_accounts == (2,) and set(plan.gone_contracts) == {10, 11, 12}
    assert 1 in plan.keep_accounts and 10 in plan.keep_contracts  # account 1 still justifies contract 10
    assert plan.drop_contracts == (12,)  # 12 left customer 2 and nothing keeps it


def test_a_customers_full_sync_never_lets_go_of_shared_reference_data():
    now = scope((10, 1, "Customer"), customers={1})
    plan = plan_customers(SCENARIO, now, Held(contracts=frozenset({10, 12})), old_contracts=frozenset({12}))
    assert plan.drop_contracts == ()


def test_keeping_holds_on_to_what_the_portal_kept_rows_of():
    plan = plan_changes(INVOICE, scope((10, 1, "Customer")), Held(frozenset({1, 3}), frozenset({10, 12})))
    kept = plan.keeping(frozenset({3}), frozenset())
    assert kept.drop_accounts == () and kept.drop_contracts == (12,)
    assert plan.keeping(frozenset(), frozenset()) is plan


@pytest.mark.parametrize(
    ("kind", "watermark", "retry", "expected"),
    [
        ("full", None, [], ["full"]),
        ("incremental", 500, [], ["incremental", "full"]),  # the window, and the entries in full
        ("incremental", 0, [], ["incremental"]),  # a first window holds every row already
        ("incremental", 500, [7], ["incremental", "full", "retry"]),  # quarantined rows read again by key
        ("scope", None, [], ["full"]),  # a daily entity in the 15-minute run: its entries only
        ("backfill", None, [], ["backfill", "full"]),
    ],
)
def test_the_extract_passes_of_each_kind_of_load(kind, watermark, retry, expected):
    plan = plan_changes(INVOICE, scope((10, 1, "Customer"), (11, 2, "Customer")), Held(frozenset({1}), frozenset({10})))
    passes = extract_passes(INVOICE, LoadRequest(INVOICE, kind), plan, watermark, retry)
    assert [kind for kind, _accounts, _contracts in passes] == expected


def test_shared_reference_data_that_contracts_left_is_read_whole_for_what_still_uses_it():
    plan = plan_changes(SCENARIO, scope((10, 1, "Customer")), Held(contracts=frozenset({10, 12})))
    assert extract_passes(SCENARIO, LoadRequest(SCENARIO, "scope"), plan, None) == [("full", (), (10,))]


@pytest.mark.parametrize(
    ("removed", "total", "trips"),
    [(50, 100, False), (51, 100, True), (51, 1000, False), (300, 1000, True), (10, 10, False)],
)
def test_the_removal_guard_needs_both_the_fraction_and_the_floor(removed, total, trips):
    assert RemovalGuard(max_fraction=0.2, floor=50).trips(removed, total) is trips
    assert not RemovalGuard(allowed=True).trips(removed, total)


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_a_removal_guard_with_a_fraction_out_of_range_is_refused(fraction):
    with pytest.raises(ValueError, match="above 0 and at most 1"):
        RemovalGuard(max_fraction=fraction)


def test_only_a_full_load_over_everyone_may_reconcile():
    LoadRequest(INVOICE, "full", reconcile=True)
    with pytest.raises(ValueError, match="needs a full load over every enrolled customer"):
        LoadRequest(INVOICE, "full", accounts=(1,), reconcile=True)
