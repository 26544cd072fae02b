"""The drift comparison (compare_stage.sql) against a model: for any staged rows and portal rows, the per-customer
counts and money sums equal those computed row by row in Python from the definitions (a row only ASPIRE has is
missing for its customer; only the portal, extra; the same key under two customers, moved out of one and into the
other; pending and newer rows, and customers whose scope changed, left out). On a real PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aspire_portal import catalogue, reconcile

ENTITY = catalogue.Entity(
    "drift_model", "dbo.DriftModel", ("line_oid",), "daily", "account", "", money=("amount",), per="account_oid"
)
COLUMNS = ("line_oid", "account_oid", "amount", "memo", "source_rowver")
STAGE = "drift_model_stage"


@pytest.fixture(scope="module")
def portal(fresh_database):
    with psycopg.connect(fresh_database("reconcile_model"), autocommit=True) as conn:
        conn.execute("create schema aspire")
        for table in (ENTITY.target_table, STAGE):
            conn.execute(
                f"create table {table} (line_oid bigint primary key, account_oid bigint, amount numeric(12, 2), "
                "memo text, source_rowver bigint not null)"
            )
        yield conn


def fill(portal: psycopg.Connection, stage: dict, held: dict) -> None:
    """The stage's rows and the portal table's (key -> (owner, amount, memo, row version)), in the caller's
    transaction."""
    for table, content in ((STAGE, stage), (ENTITY.target_table, held)):
        portal.cursor().executemany(
            f"insert into {table} ({', '.join(COLUMNS)}) values (%s, %s, %s, %s, %s)",
            [(key, *row) for key, row in content.items()],
        )


owners = st.sampled_from([None, 1, 2, 3])
a_row = st.tuples(
    owners,
    st.one_of(st.none(), st.sampled_from([Decimal("0.00"), Decimal("10.25"), Decimal("-3.50"), Decimal("99.99")])),
    st.sampled_from([None, "a", "b"]),
    st.integers(1, 6),
)
sides = st.dictionaries(st.integers(1, 12), st.tuples(st.one_of(st.none(), a_row), st.one_of(st.none(), a_row)))


def modelled(stage: dict, portal: dict, pending_from, newer_from, scope_accounts) -> dict:
    """Per owner: aspire_rows, portal_rows, missing, extra, changed, moved_out, moved_in, aspire sum, portal sum."""
    groups: dict = defaultdict(lambda: [0] * 7 + [None, None])

    def add(index: int, owner, amount) -> None:
        group = groups[owner]
        group[index] = amount if group[index] is None else group[index] + (amount or 0)

    for key in stage.keys() | portal.keys():
        s, t = stage.get(key), portal.get(key)
        if pending_from is not None and not ((s[3] if s else 0) < pending_from and (t[3] if t else 0) < pending_from):
            continue
        if newer_from is not None and s is None and not t[3] < newer_from:
            continue
        owner = s[0] if s and s[0] is not None else (t[0] if t else None)
        if (owner or 0) in scope_accounts:
            continue
        if s:
            group = groups[s[0]]
            group[0] += 1
            group[2] += t is None
            group[4] += t is not None and s[0] == t[0] and s != t
            group[5] += t is not None and s[0] != t[0]
            if s[1] is not None:
                add(7, s[0], s[1])
        if t:
            group = groups[t[0]]
            group[1] += 1
            group[3] += s is None
            group[6] += s is not None and s[0] != t[0]
            if t[1] is not None:
                add(8, t[0], t[1])
    return {owner: tuple(g[:7]) + (g[7] or 0, g[8] or 0) for owner, g in groups.items()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=sides,
    pending_from=st.one_of(st.none(), st.integers(1, 7)),
    newer_from=st.one_of(st.none(), st.integers(1, 7)),
    scope_accounts=st.sets(st.sampled_from([1, 2, 3]), max_size=2),
)
def test_the_comparison_counts_every_row_as_the_model_does(portal, rows, pending_from, newer_from, scope_accounts):
    stage = {key: s for key, (s, _t) in rows.items() if s}
    held = {key: t for key, (_s, t) in rows.items() if t}
    with portal.transaction(force_rollback=True):
        fill(portal, stage, held)
        got = reconcile.grouped(
            portal,
            ENTITY,
            STAGE,
            COLUMNS,
            pending_from=pending_from,
            newer_from=newer_from,
            scope_changes=(sorted(scope_accounts), ()),
        )
    assert {g[0]: tuple(g[1:]) for g in got} == modelled(stage, held, pending_from, newer_from, scope_accounts)


# an edit of the portal: one field of a row the stage has (by position), that field swapped with the next row's,
# that row deleted, or a row added
an_edit = st.one_of(
    st.tuples(st.integers(0, 11), st.sampled_from([0, 1, 2, 3]), st.integers(0, 3)),
    st.tuples(st.integers(0, 11), st.just("swap"), st.sampled_from([1, 2, 3])),
    st.tuples(st.integers(0, 11), st.just("delete"), st.just(0)),
    st.tuples(st.integers(1, 12), st.just("add"), st.integers(0, 3)),
)
edits = st.one_of(st.just([]), st.lists(an_edit, min_size=1, max_size=3))
FIELD_VALUES = (
    (None, 1, 2, 3),
    (None, Decimal("0.00"), Decimal("10.25"), Decimal("-3.50")),
    (None, "a", "b", "c"),
    (1, 3, 5, 7),
)


def edited(stage: dict, changes: list) -> dict:
    held = dict(stage)
    for position, what, value in changes:
        keys = sorted(held)
        if what == "add":
            held.setdefault(position, (1, Decimal("1.00"), "a", value + 1))
        elif keys:
            key = keys[position % len(keys)]
            if what == "delete":
                del held[key]
            elif what == "swap":
                other = keys[(position + 1) % len(keys)]
                one, two = list(held[key]), list(held[other])
                one[value], two[value] = two[value], one[value]
                held[key], held[other] = tuple(one), tuple(two)
            else:
                row = list(held[key])
                row[what] = FIELD_VALUES[what][value]
                held[key] = tuple(row)
    return held


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stage=st.dictionaries(st.integers(1, 12), a_row, min_size=1),
    changes=edits,
    # mostly nothing left out, so that drift is not hidden behind what is
    pending_from=st.sampled_from([None, None, None, 2, 4, 6]),
    newer_from=st.sampled_from([None, None, None, 2, 4, 6]),
    scope_accounts=st.sampled_from([set(), set(), set(), {1}, {2, 3}]),
    most_owners_joined=st.sampled_from([reconcile.MOST_OWNERS_JOINED, 0]),
)
# a note edited (same customer, same money: only the row hash tells); a row pending on one side only; a row the
# portal files under a customer whose scope changed (its sums leave it out; the join pairs it with one that differs);
# a portal row newer than the read filed under another customer whose other rows sum the same; two rows of one
# customer with their notes swapped (a hash that combines columns linearly sums the same)
@example(
    stage={1: (1, Decimal("10.00"), "a", 3), 2: (1, Decimal("20.00"), "b", 3)},
    changes=[(0, "swap", 2)],
    pending_from=None,
    newer_from=None,
    scope_accounts=set(),
    most_owners_joined=reconcile.MOST_OWNERS_JOINED,
)
@example(
    stage={1: (1, Decimal("1.00"), "a", 3)},
    changes=[(0, 2, 3)],
    pending_from=None,
    newer_from=None,
    scope_accounts=set(),
    most_owners_joined=reconcile.MOST_OWNERS_JOINED,
)
@example(
    stage={1: (1, None, "a", 3)},
    changes=[(0, 3, 2)],
    pending_from=4,
    newer_from=None,
    scope_accounts=set(),
    most_owners_joined=reconcile.MOST_OWNERS_JOINED,
)
@example(
    stage={1: (1, None, "a", 5)},
    changes=[(0, 3, 1)],
    pending_from=4,
    newer_from=None,
    scope_accounts=set(),
    most_owners_joined=reconcile.MOST_OWNERS_JOINED,
)
@example(
    stage={1: (2, Decimal("10.25"), "a", 3), 2: (1, Decimal("0.00"), "b", 3)},
    changes=[(0, 0, 1)],
    pending_from=None,
    newer_from=None,
    scope_accounts={1},
    most_owners_joined=reconcile.MOST_OWNERS_JOINED,
)
@example(
    stage={1: (2, Decimal("10.25"), "a", 3), 2: (1, Decimal("0.00"), "b", 3)},
    changes=[(0, 0, 1), (0, 3, 3)],
    pending_from=None,
    newer_from=6,
    scope_accounts=set(),
    most_owners_joined=reconcile.MOST_OWNERS_JOINED,
)
def test_the_comparison_sums_each_side_and_joins_only_where_the_sums_differ(
    portal, stage, changes, pending_from, newer_from, scope_accounts, most_owners_joined
):
    """The portal is the stage, edited in a few rows (or not): compare (which sums each side per customer, then
    joins only the rows of the customers whose sums differ, or every row when too many differ) gives the model's
    totals and per-customer differences, and says "the same" only where the model finds no drift at all."""
    held = edited(stage, changes)
    joined_above, reconcile.MOST_OWNERS_JOINED = reconcile.MOST_OWNERS_JOINED, most_owners_joined
    try:
        with portal.transaction(force_rollback=True):
            fill(portal, stage, held)
            left_out = {
                "pending_from": pending_from,
                "newer_from": newer_from,
                "scope_changes": (sorted(scope_accounts), ()),
            }
            drift = reconcile.compare(portal, ENTITY, STAGE, COLUMNS, phase="before", read_bound=9, **left_out)
    finally:
        reconcile.MOST_OWNERS_JOINED = joined_above
    groups = modelled(stage, held, pending_from, newer_from, scope_accounts)
    aspire, held_rows, missing, extra, changed, moved_out, _in, aspire_sum, portal_sum = (
        (sum(column) for column in zip(*groups.values(), strict=True)) if groups else (0,) * 9
    )
    assert [(m.measure, m.aspire, m.portal, m.difference) for m in drift.totals] == [
        ("rows", aspire, held_rows, held_rows - aspire),
        ("missing_keys", missing, 0, -missing),
        ("extra_keys", 0, extra, extra),
        ("changed_rows", None, None, changed + moved_out),
        ("sum:amount", aspire_sum, portal_sum, portal_sum - aspire_sum),
    ]
    expected_owners = set()
    for owner, (a_rows, p_rows, miss, ext, chg, out, into, a_sum, p_sum) in groups.items():
        if owner is None:
            continue
        for measured in (
            ("rows", a_rows, p_rows, p_rows - a_rows),
            ("missing_keys", miss + out, 0, -(miss + out)),
            ("extra_keys", 0, ext + into, ext + into),
            ("changed_rows", None, None, chg),
            ("sum:amount", a_sum, p_sum, p_sum - a_sum),
        ):
            if measured[3] != 0:
                expected_owners.add((owner, *measured))
    assert {(m.account_oid, m.measure, m.aspire, m.portal, m.difference) for m in drift.owners} == expected_owners
    no_drift = all(g[0] == g[1] and not any(g[2:7]) and g[7] == g[8] for g in groups.values())
    if drift.summed:
        assert no_drift, f"the sums said the same rows where the model finds drift: {groups}"
    if held == stage and (newer_from is None or all(row[3] < newer_from for row in stage.values())):
        assert drift.summed, "the same rows on both sides, yet the sums did not say so"
    pending = pending_from is not None and any(r[3] >= pending_from for r in (*stage.values(), *held.values()))
    if no_drift and newer_from is None and not scope_accounts and not pending:
        assert drift.summed, "no drift, yet the sums did not say so"


def measured(drift: reconcile.Drift) -> tuple:
    return (
        drift.phase,
        drift.read_bound,
        drift.summed,
        [(m.measure, m.aspire, m.portal, m.difference) for m in drift.totals],
        {(m.account_oid, m.measure, m.aspire, m.portal, m.difference) for m in drift.owners},
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stage=st.dictionaries(st.integers(1, 12), a_row, min_size=1),
    changes=edits,
    pending_from=st.sampled_from([None, None, 2, 4, 6]),
    read_bound=st.sampled_from([None, 9, 9, 2, 4, 6]),
    scope_accounts=st.sampled_from([set(), set(), {1}, {2, 3}]),
)
# the portal holds a row the stage lacks, newer than the read (kept by the delete, left out after); a row the
# comparison before leaves out as pending, the same on both sides
@example(
    stage={1: (1, Decimal("1.00"), "a", 3)},
    changes=[(5, "add", 3)],
    pending_from=None,
    read_bound=4,
    scope_accounts=set(),
)
@example(
    stage={1: (1, Decimal("1.00"), "a", 5)},
    changes=[],
    pending_from=4,
    read_bound=9,
    scope_accounts={1},
)
def test_the_comparison_after_an_unwritten_merge_is_summed_by_the_one_before(
    portal, stage, changes, pending_from, read_bound, scope_accounts
):
    """Before a merge, compare also sums, from the same scans, the comparison confirm() makes after it, as it comes
    out when nothing is written: whenever that one, run on the same rows, finds every customer the same, it is that
    drift exactly; whenever the run one has to join (some customer differs), it is not offered. Asking for it leaves
    the comparison before unchanged."""
    held = edited(stage, changes)
    before_args = {
        "phase": "before",
        "read_bound": read_bound,
        "pending_from": pending_from,
        "scope_changes": (sorted(scope_accounts), ()),
    }
    with portal.transaction(force_rollback=True):
        fill(portal, stage, held)
        plain = reconcile.compare(portal, ENTITY, STAGE, COLUMNS, **before_args)
        before = reconcile.compare(portal, ENTITY, STAGE, COLUMNS, **before_args, unwritten=True)
        after = reconcile.compare(
            portal,
            ENTITY,
            STAGE,
            COLUMNS,
            phase="after",
            read_bound=read_bound,
            pending_from=None,
            newer_from=read_bound,
        )
    assert measured(before) == measured(plain)
    assert plain.unwritten_after is None
    if after.summed:
        assert before.unwritten_after is not None, "the run comparison found every customer the same; not offered"
        assert measured(before.unwritten_after) == measured(after)
    else:
        assert before.unwritten_after is None, f"offered a summed 'after' where customers differ: {measured(after)}"
