"""The persisted scope is the resolved one: a resolution copies the newest scope of everyone on the server and sends
only the difference, or shares its stored rows when it came out the same; if the base was forgotten meanwhile
(another run's clean-up), it sends it all. Stored rows live exactly as long as a resolution reads them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import psycopg
import pytest

from aspire_portal import catalogue, migrations, planning, scope, sqlfiles
from aspire_portal.model import MassRemoval, RemovalGuard


@pytest.fixture
def portal(fresh_database):
    with psycopg.connect(fresh_database("scope_persistence"), autocommit=True) as conn:
        migrations.migrate(conn)
        yield conn


EVERYONE = planning.Scope(
    accounts=frozenset({1, 2, 3}),
    links=frozenset({(10, 1, "Customer"), (20, 2, "Customer"), (30, 3, "Guarantor"), (40, 3, "Customer")}),
    read_bound=100,
    resolved_at=datetime.now(UTC),
)
# customer 1 re-read: its contract 10 left, 11 came; account 2 un-enrolled since; account 4 enrolled and re-read
CUSTOMERS = planning.Scope(
    accounts=frozenset({1, 3, 4}),
    links=frozenset({(11, 1, "Customer"), (30, 3, "Guarantor"), (40, 3, "Customer"), (50, 4, "Customer")}),
    read_bound=120,
    resolved_at=datetime.now(UTC),
    customers=frozenset({1, 4}),
)


def persisted(portal, resolution_id):
    loaded = scope.load_resolution(
        portal,
        sqlfiles.render("scope/select_scope_resolution.sql", by_run=False).replace(
            "r.kind = 'all'", "r.resolution_id = %(id)s"
        ),
        {"id": resolution_id},
    )
    return loaded.accounts, loaded.links


def stored(portal, members_id):
    """How many account and contract rows are stored under `members_id`."""
    return portal.execute(
        "select (select count(*) from aspire_sync.scope_account where resolution_id = %(id)s), "
        "(select count(*) from aspire_sync.scope_contract where resolution_id = %(id)s)",
        {"id": members_id},
    ).fetchone()


def age(portal, resolution_id, hours=4):
    portal.execute(
        "update aspire_sync.scope_resolution set resolved_at = resolved_at - make_interval(hours => %s) "
        "where resolution_id = %s",
        (hours, resolution_id),
    )


@pytest.mark.parametrize("base_gone", ["no", "forgotten", "rows-lost"])
def test_a_customer_resolution_persists_exactly_the_resolved_scope(portal, base_gone, caplog):
    base = scope.persist_scope(portal, EVERYONE, None, "d", "everyone", [])
    assert persisted(portal, base.resolution_id) == (EVERYONE.accounts, EVERYONE.links)
    if base_gone == "forgotten":  # another run's clean-up forgot the base between reading and copying it
        portal.execute("delete from aspire_sync.scope_resolution where resolution_id = %s", (base.resolution_id,))
        portal.execute("delete from aspire_sync.scope_account where resolution_id = %s", (base.resolution_id,))
        portal.execute("delete from aspire_sync.scope_contract where resolution_id = %s", (base.resolution_id,))
    if base_gone == "rows-lost":  # rows gone some other way: the copy does not add up
        portal.execute("delete from aspire_sync.scope_contract where resolution_id = %s", (base.resolution_id,))
    mine = scope.persist_scope(portal, CUSTOMERS, base, "d", "customers", [])
    assert persisted(portal, mine.resolution_id) == (CUSTOMERS.accounts, CUSTOMERS.links)
    assert mine.members_of is None and stored(portal, mine.resolution_id) == (3, 4)
    assert ("did not add up" in caplog.text) == (base_gone == "rows-lost")


def test_a_scope_of_everyone_that_came_out_the_same_shares_the_stored_rows(portal):
    first = scope.persist_scope(portal, EVERYONE, None, "d", "one", [])
    same = scope.persist_scope(portal, replace(EVERYONE, read_bound=130), first, "d", "two", [])
    again = scope.persist_scope(portal, replace(EVERYONE, read_bound=140), same, "d", "three", [])
    assert (same.members_of, again.members_of) == (first.resolution_id, first.resolution_id)
    assert stored(portal, same.resolution_id) == stored(portal, again.resolution_id) == (0, 0)
    for resolution in (first, same, again):
        assert persisted(portal, resolution.resolution_id) == (EVERYONE.accounts, EVERYONE.links)
    assert scope.for_run(portal, "d", "three") == again


def test_a_scope_of_everyone_that_changed_sends_only_the_accounts_that_changed(portal):
    first = scope.persist_scope(portal, EVERYONE, None, "d", "one", [])
    # account 2 lost its contract 20 and took 21; account 3 is no longer Guarantor of 30; account 5 enrolled
    changed = replace(
        EVERYONE,
        accounts=frozenset({1, 2, 3, 5}),
        links=frozenset({(10, 1, "Customer"), (21, 2, "Customer"), (40, 3, "Customer"), (60, 5, "Guarantor")}),
    )
    second = scope.persist_scope(portal, changed, first, "d", "two", [])
    assert second.members_of is None and stored(portal, second.resolution_id) == (4, 4)
    assert persisted(portal, second.resolution_id) == (changed.accounts, changed.links)
    assert persisted(portal, first.resolution_id) == (EVERYONE.accounts, EVERYONE.links)


def test_stored_rows_are_forgotten_with_the_last_resolution_that_reads_them(portal):
    first = scope.persist_scope(portal, EVERYONE, None, "d", "one", [])
    same = scope.persist_scope(portal, EVERYONE, first, "d", "two", [])
    age(portal, first.resolution_id)
    age(portal, same.resolution_id)
    newest = scope.persist_scope(portal, EVERYONE, same, "d", "three", [])  # forgets "one": "two" still reads it
    ids = [r for (r,) in portal.execute("select resolution_id from aspire_sync.scope_resolution order by 1")]
    assert ids == [same.resolution_id, newest.resolution_id] or ids == [newest.resolution_id]
    assert stored(portal, first.resolution_id) == (3, 4)
    assert persisted(portal, newest.resolution_id) == (EVERYONE.accounts, EVERYONE.links)
    changed = replace(EVERYONE, accounts=frozenset({1}), links=frozenset({(10, 1, "Customer")}))
    age(portal, newest.resolution_id)
    last = scope.persist_scope(portal, changed, newest, "d", "four", [])  # forgets every reader of "one"'s rows
    assert [r for (r,) in portal.execute("select resolution_id from aspire_sync.scope_resolution")] == [
        last.resolution_id
    ]
    assert stored(portal, first.resolution_id) == (0, 0)
    assert persisted(portal, last.resolution_id) == (changed.accounts, changed.links)


def test_an_entitys_held_state_is_read_only_when_not_known_to_equal_the_scope(portal):
    """A load that leaves the entity holding exactly the run's scope records so; the next load of that scope does not
    read the held rows. Any load that changes them records what it knows, and a load that read them before another
    load changed them never claims they equal its scope."""
    entity = catalogue.entity("contract")
    everyone = scope.persist_scope(portal, EVERYONE, None, "d", "one", [])
    first = scope.held(portal, entity, everyone)
    assert first == planning.Held()  # nothing held, nothing known
    with portal.transaction():
        scope.record_held(portal, entity, planning.plan_changes(entity, everyone, first), first, everyone)
    known = scope.held(portal, entity, everyone)
    assert known.members_id == everyone.members_id and known.version == 1
    assert (known.accounts, known.contracts) == planning.expected_held(entity, everyone)
    # the same scope resolved again (shared rows): still known, nothing written by a quiet load
    same = scope.persist_scope(portal, EVERYONE, everyone, "d", "two", [])
    quiet = scope.held(portal, entity, same)
    with portal.transaction():
        scope.record_held(portal, entity, planning.plan_changes(entity, same, quiet), quiet, same)
    assert scope.held(portal, entity, same).version == 1
    # a customer full sync takes in account 9 and its contract 90 while another load has read the held state
    reader = scope.held(portal, entity, same)
    taken = planning.Plan(accounts=(9,), contracts=(90,), add_accounts=(9,), add_contracts=(90,))
    with portal.transaction():
        scope.record_held(portal, entity, taken, scope.held(portal, entity, same), same)
    after = scope.held(portal, entity, same)
    assert after.members_id is None and 9 in after.accounts and 90 in after.contracts and after.version == 2
    # the load that read before it lets go of contract 40: it must not claim the held state equals anything
    drop = planning.Plan(accounts=(), contracts=(), drop_contracts=(40,))
    with portal.transaction():
        scope.record_held(portal, entity, drop, reader, replace(same, links=same.links - {(40, 3, "Customer")}))
    final = scope.held(portal, entity, same)
    assert final.members_id is None and final.version == 3
    assert 9 in final.accounts and 40 not in final.contracts


def test_a_held_state_marker_says_nothing_once_the_entity_follows_other_things(portal):
    """The marker is read through what the entity follows: a release that changes that makes it unknown again."""
    entity = catalogue.entity("contract")
    everyone = scope.persist_scope(portal, EVERYONE, None, "d", "one", [])
    first = scope.held(portal, entity, everyone)
    with portal.transaction():
        scope.record_held(portal, entity, planning.plan_changes(entity, everyone, first), first, everyone)
    assert scope.held(portal, entity, everyone).members_id == everyone.members_id
    portal.execute("update aspire_sync.entity_scope_state set follows = 'accounts,contracts' where entity = 'contract'")
    reread = scope.held(portal, entity, everyone)
    assert reread.members_id is None and (reread.accounts, reread.contracts) == planning.expected_held(entity, everyone)


def test_the_guard_reads_what_the_portal_holds_unless_known_to_be_the_scope_shared(portal):
    """The mass-removal guard skips reading what the account and contract entities hold only when each is known to
    hold exactly the stored scope the new one shares; a scope that shares it still trips the guard once an entity
    took in more than it (a customer full sync), and so does one that shares nothing."""
    everyone = scope.persist_scope(portal, EVERYONE, None, "d", "one", [])
    for name in ("account", "contract"):
        entity = catalogue.entity(name)
        state = scope.held(portal, entity, everyone)
        with portal.transaction():
            scope.record_held(portal, entity, planning.plan_changes(entity, everyone, state), state, everyone)
    strict = RemovalGuard(max_fraction=0.2, scope_floor=0)
    sharing = replace(EVERYONE, members_of=everyone.members_id)
    scope.guard_scope(portal, strict, sharing, "d")  # nothing lets go: passes
    fewer = replace(EVERYONE, accounts=frozenset({1}), links=frozenset({(10, 1, "Customer")}))
    with pytest.raises(MassRemoval, match="lets go of 2 of the 3 enrolled customer accounts"):
        scope.guard_scope(portal, strict, fewer, "d")
    # the account entity takes in accounts 7, 8 and 9: the marker no longer says it holds the shared scope
    entity = catalogue.entity("account")
    taken = planning.Plan(accounts=(7, 8, 9), contracts=(), add_accounts=(7, 8, 9))
    with portal.transaction():
        state = scope.held(portal, entity, sharing)
        scope.record_held(portal, entity, taken, state, sharing)
    with pytest.raises(MassRemoval, match="lets go of 3 of the 6 enrolled customer accounts"):
        scope.guard_scope(portal, strict, sharing, "d")
    scope.guard_scope(portal, replace(strict, allowed=True), sharing, "d")
    # a release where the contract entity follows other things: its marker says nothing
    portal.execute("update aspire_sync.entity_scope_state set follows = 'accounts,contracts' where entity = 'contract'")
    portal.execute("delete from aspire_sync.entity_account_scope where entity = 'account' and account_oid > 6")
    portal.execute("insert into aspire_sync.entity_contract_scope (entity, contract_oid) values ('contract', 99)")
    with pytest.raises(MassRemoval, match="lets go of 1 of the 5 contracts"):
        scope.guard_scope(portal, replace(strict, max_fraction=0.1), sharing, "d")


def test_a_scope_whose_stored_rows_were_forgotten_while_read_is_no_scope(portal, caplog):
    """The newest scope's row and its stored accounts and contracts are two reads: when another run's clean-up
    forgets the rows in between, what was read is not taken for that scope (an empty one would pass for any empty
    scope resolved now). A scope that is empty is still read as one."""
    everyone = scope.persist_scope(portal, EVERYONE, None, "d", "one", [])
    assert scope.latest(portal).members_id == everyone.members_id
    portal.execute("delete from aspire_sync.scope_account where resolution_id = %s", (everyone.resolution_id,))
    portal.execute("delete from aspire_sync.scope_contract where resolution_id = %s", (everyone.resolution_id,))
    assert scope.latest(portal) is None
    assert "were forgotten while being read" in caplog.text
    empty = replace(EVERYONE, accounts=frozenset(), links=frozenset())
    nobody = scope.persist_scope(portal, empty, None, "d", "two", [])
    newest = scope.latest(portal)
    assert newest.resolution_id == nobody.resolution_id and newest.accounts == newest.links == frozenset()
