"""A resolution of everyone reads from ASPIRE only what it must: when ASPIRE's scope tables (Account, Contract,
ContractRole) are unchanged since the newest scope (same counts, nothing at or above its read bound, same timeline),
only the accounts that scope has not seen; after any change, everything. Each case checks the scope against one
read straight from the emulator, and which way it was resolved."""

from __future__ import annotations

import itertools

import psycopg
import pytest

from aspire_emulator import backup, generate
from aspire_emulator import portal as portal_app
from aspire_portal import catalogue, migrations, model, scope
from aspire_portal.load import load_entity
from helpers import settle

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

RUNS = itertools.count()
ADD_ROLE = (
    "insert into dbo.contractrole (contractroleoid, contractoid, accountoid, roletype, lastmodifiedat) "
    "select max(contractroleoid) + 1, %s, %s, %s, now() from dbo.contractrole"
)
LINKS = """
select r.contractoid, r.accountoid, r.roletype
from dbo.contractrole as r
inner join dbo.contract as c on c.contractoid = r.contractoid
where c.isbooked = 1 and r.roletype in ('Customer', 'Guarantor') and r.accountoid = any(%s)
"""


@pytest.fixture(scope="module")
def world(fresh_database):
    aspire_dsn = fresh_database("fingerprint_aspire")
    generate.create(aspire_dsn, size="small", seed=515)
    portal_dsn = fresh_database("fingerprint_portal")
    portal_app.create_portal_schema(portal_dsn)
    portal_app.enroll(portal_dsn, aspire_dsn, count=10, seed=5)
    with psycopg.connect(portal_dsn, autocommit=True) as portal:
        migrations.migrate(portal)
    return aspire_dsn, portal_dsn


@pytest.fixture
def w(world):
    aspire_dsn, portal_dsn = world
    with psycopg.connect(aspire_dsn, autocommit=True) as aspire, psycopg.connect(portal_dsn, autocommit=True) as portal:
        settle(aspire)
        yield aspire, portal, aspire_dsn, portal_dsn


def resolve(w, caplog, persist=True) -> tuple[scope.Scope, str]:
    """The scope resolved (and persisted, unless not `persist`) now, and how many accounts' links it read from ASPIRE
    ("k of n")."""
    aspire, portal, aspire_dsn, portal_dsn = w
    settle(aspire)
    caplog.clear()
    with caplog.at_level("INFO", logger="aspire_portal.scope"), psycopg.connect(aspire_dsn) as source:
        resolved = scope.resolve(source, portal, "postgres", persist=persist, dag_id="test", run_id=f"run-{next(RUNS)}")
    line = next(r.getMessage() for r in caplog.records if "read the links of" in r.getMessage())
    return resolved, line.split("read the links of ")[1].split(" enrolled")[0]


def read_everything(w, caplog) -> scope.Scope:
    """The scope resolved now, having read every enrolled account's links from ASPIRE."""
    resolved, read = resolve(w, caplog)
    assert read == f"{len(resolved.accounts)} of {len(resolved.accounts)}"
    return resolved


def truth(w) -> frozenset:
    aspire, _portal, _a, portal_dsn = w
    enrolled = portal_app.enrolled_accounts(portal_dsn)
    return frozenset((c, a, r) for c, a, r in aspire.execute(LINKS, (enrolled,)))


def not_enrolled_account(aspire, portal_dsn) -> int:
    return aspire.execute(
        "select accountoid from dbo.account where accountoid <> all(%s) order by 1 limit 1",
        (portal_app.enrolled_accounts(portal_dsn),),
    ).fetchone()[0]


def enrolled_customer_role(aspire, portal_dsn):
    """A Customer role of an enrolled account on a booked contract: (role oid, contract, account)."""
    return aspire.execute(
        "select r.contractroleoid, r.contractoid, r.accountoid from dbo.contractrole as r "
        "join dbo.contract as c on c.contractoid = r.contractoid "
        "where c.isbooked = 1 and r.roletype = 'Customer' and r.accountoid = any(%s) order by 1 limit 1",
        (portal_app.enrolled_accounts(portal_dsn),),
    ).fetchone()


def test_a_quiet_aspire_is_not_read_again_and_the_stored_scope_is_shared(w, caplog):
    first, _read = resolve(w, caplog)
    again, read = resolve(w, caplog)
    n = len(again.accounts)
    assert read == f"0 of {n}"
    assert again.links == first.links == truth(w)
    assert again.members_of == first.members_id and again.source_fingerprint is not None


def test_a_full_loads_scope_of_a_quiet_aspire_is_known_as_the_newest_stored_scope(w, caplog):
    """A full load over everyone resolves its scope without storing it: when it came out as the newest stored scope
    it carries that scope's members_id (what entities' held-state markers are compared with), else none."""
    aspire, _portal, aspire_dsn, portal_dsn = w
    newest, _read = resolve(w, caplog)
    quiet, read = resolve(w, caplog, persist=False)
    assert read == f"0 of {len(quiet.accounts)}" and quiet.resolution_id is None
    assert quiet.members_id == newest.members_id
    assert (quiet.links, quiet.contracts) == (newest.links, frozenset(c for c, _a, _r in truth(w)))
    role, _contract, _account = enrolled_customer_role(aspire, portal_dsn)
    aspire.execute("delete from dbo.contractrole where contractroleoid = %s", (role,))
    changed, _read = resolve(w, caplog, persist=False)
    assert changed.members_id is None and changed.links == truth(w)
    resolve(w, caplog)
    new = portal_app.enroll(portal_dsn, aspire_dsn, count=1, seed=77)
    enrolled, read = resolve(w, caplog, persist=False)
    assert read == f"1 of {len(enrolled.accounts)}" and enrolled.members_id is None and set(new) <= enrolled.accounts
    portal_app.unenroll(portal_dsn, new[0])


@pytest.mark.parametrize(
    "change",
    ["role-deleted", "role-added", "contract-unbooked", "delete-and-insert-in-one-transaction", "role-updated"],
)
def test_every_change_to_the_scope_tables_is_read(w, caplog, change):
    aspire, _portal, _a, portal_dsn = w
    resolve(w, caplog)
    role, contract, account = enrolled_customer_role(aspire, portal_dsn)
    other = not_enrolled_account(aspire, portal_dsn)
    with aspire.transaction():
        if change == "role-deleted":
            aspire.execute("delete from dbo.contractrole where contractroleoid = %s", (role,))
        elif change == "role-added":
            aspire.execute(ADD_ROLE, (contract, account, "Guarantor"))
        elif change == "contract-unbooked":
            aspire.execute("update dbo.contract set isbooked = 0 where contractoid = %s", (contract,))
        elif change == "delete-and-insert-in-one-transaction":  # the count stays the same
            aspire.execute("delete from dbo.contractrole where contractroleoid = %s", (role,))
            aspire.execute(ADD_ROLE, (contract, other, "Customer"))
        else:  # the role moves to an account that is not enrolled
            aspire.execute("update dbo.contractrole set accountoid = %s where contractroleoid = %s", (other, role))
    resolved = read_everything(w, caplog)
    assert resolved.links == truth(w)
    again, read = resolve(w, caplog)  # and the next one, with nothing changed since, vouches again
    assert read == f"0 of {len(again.accounts)}" and again.links == truth(w)


def test_a_new_enrolment_reads_only_the_new_account(w, caplog):
    aspire, _portal, aspire_dsn, portal_dsn = w
    before, _read = resolve(w, caplog)
    new = portal_app.enroll(portal_dsn, aspire_dsn, count=1, seed=99)
    resolved, read = resolve(w, caplog)
    assert read == f"1 of {len(resolved.accounts)}" and set(new) <= resolved.accounts
    assert resolved.links == truth(w) and resolved.members_of is None
    portal_app.unenroll(portal_dsn, new[0])
    after, read = resolve(w, caplog)
    assert read == f"0 of {len(after.accounts)}" and after.accounts == before.accounts and after.links == truth(w)


def test_a_change_held_open_while_the_scope_is_resolved_is_read_once_it_commits(w, caplog):
    aspire, _portal, aspire_dsn, portal_dsn = w
    resolve(w, caplog)
    role, contract, account = enrolled_customer_role(aspire, portal_dsn)
    with psycopg.connect(aspire_dsn) as held:
        held.execute("delete from dbo.contractrole where contractroleoid = %s", (role,))
        with psycopg.connect(aspire_dsn) as source:  # resolved while the delete is open (not settled: it holds)
            during = scope.resolve(source, w[1], "postgres", dag_id="test", run_id="held-open")
        assert (contract, account, "Customer") in during.links
        held.commit()
    resolved = read_everything(w, caplog)
    assert (contract, account, "Customer") not in resolved.links and resolved.links == truth(w)


def test_an_aspire_restored_from_a_backup_is_read_again(w, caplog):
    """After a restore the counter goes back: the same counts and newest row version can then name other rows."""
    aspire, _portal, aspire_dsn, portal_dsn = w
    backup.backup(aspire_dsn, "fingerprint")
    resolve(w, caplog)
    role, contract, account = enrolled_customer_role(aspire, portal_dsn)
    backup.restore(aspire_dsn, "fingerprint")
    with psycopg.connect(aspire_dsn, autocommit=True) as restored:
        restored.execute("update dbo.contract set isbooked = 0 where contractoid = %s", (contract,))
        settle(restored)
    with psycopg.connect(aspire_dsn, autocommit=True) as after_restore:  # the restore ended the fixture's session
        resolved = read_everything((after_restore, *w[1:]), caplog)
    assert all(c != contract for c, _a, _r in resolved.links)


def test_changes_committed_out_of_row_version_order_are_read(w, caplog):
    """A transaction open since before a resolution's read bound writes row versions below rows already committed:
    a resolution that saw such newer rows (at or above its bound) vouches for nothing, so what the older transaction
    changes later, with the count kept, is still read."""
    aspire, _portal, aspire_dsn, portal_dsn = w
    resolve(w, caplog)
    role, contract, account = enrolled_customer_role(aspire, portal_dsn)
    other = not_enrolled_account(aspire, portal_dsn)
    with psycopg.connect(aspire_dsn) as older:
        # its row version is taken now, by a write to no scope table
        older.execute(
            "update dbo.invoice set balance = balance where invoiceoid = (select min(invoiceoid) from dbo.invoice)"
        )
        aspire.execute(ADD_ROLE, (contract, account, "Guarantor"))  # a newer transaction, committed at once
        with psycopg.connect(aspire_dsn) as source:
            during = scope.resolve(source, w[1], "postgres", dag_id="test", run_id="out-of-order")
        assert (contract, account, "Guarantor") in during.links
        older.execute("delete from dbo.contractrole where contractroleoid = %s", (role,))
        older.execute(ADD_ROLE, (contract, other, "Customer"))  # the count is back where it was
        older.commit()
    resolved = read_everything(w, caplog)
    assert (contract, account, "Customer") not in resolved.links and resolved.links == truth(w)


def test_the_runbooks_command_makes_the_next_resolution_read_everything(w, caplog):
    _aspire, portal, _a, _p = w
    resolve(w, caplog)
    portal.execute("update aspire_sync.scope_resolution set source_fingerprint = null")  # docs/operations.md
    resolved = read_everything(w, caplog)
    assert resolved.links == truth(w)


def test_a_counter_that_went_back_on_the_same_timeline_vouches_for_nothing(w, caplog):
    """A failover to a replica that lagged keeps the database's identity but sets the counter back: a resolution
    whose read bound is below the one the newest scope was read below reads everything."""
    _aspire, portal, _a, _p = w
    resolve(w, caplog)
    portal.execute(  # as if the newest scope had been read below a bound ASPIRE's counter is now under
        "update aspire_sync.scope_resolution set source_fingerprint = "
        "jsonb_set(source_fingerprint, '{bound}', to_jsonb(9000000000000000000::bigint)) "
        "where source_fingerprint is not null"
    )
    resolved = read_everything(w, caplog)
    assert resolved.links == truth(w)


def test_a_full_load_over_everyone_sets_the_held_state_right_whatever_its_marker_says(w, caplog):
    """The daily refresh's loads also repair what each entity is recorded to hold: a held state that lost an
    account behind a marker still saying it equals the scope is read, put right, and the marker set again."""
    _aspire, portal, aspire_dsn, _portal_dsn = w
    newest, _read = resolve(w, caplog)
    entity = catalogue.entity("line_of_credit")
    with psycopg.connect(aspire_dsn) as source:
        load_entity(source, portal, model.LoadRequest(entity, "full"), dialect="postgres")
    state = "select members_id from aspire_sync.entity_scope_state where entity = 'line_of_credit'"
    held = "select array_agg(account_oid order by account_oid) from aspire_sync.entity_account_scope where entity = %s"
    assert portal.execute(state).fetchone()[0] == newest.members_id
    assert portal.execute(held, (entity.name,)).fetchone()[0] == sorted(newest.accounts)
    lost = min(newest.accounts)
    portal.execute(
        "delete from aspire_sync.entity_account_scope where entity = %s and account_oid = %s", (entity.name, lost)
    )
    with psycopg.connect(aspire_dsn) as source:
        load_entity(source, portal, model.LoadRequest(entity, "full"), dialect="postgres")
    assert portal.execute(held, (entity.name,)).fetchone()[0] == sorted(newest.accounts)
    assert portal.execute(state).fetchone()[0] == newest.members_id
