"""The persisted scope is the resolved one: a customer resolution copies everyone's scope on the server and sends
only the difference; if the base it copies was forgotten meanwhile (another run's clean-up), it sends it all."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from aspire_portal import migrations, planning, scope


@pytest.fixture
def portal(fresh_database):
    with psycopg.connect(fresh_database("scope_persistence"), autocommit=True) as conn:
        migrations.migrate(conn)
        yield conn


EVERYONE = planning.Scope(
    accounts=frozenset({1, 2, 3}),
    links=frozenset({(10, 1, "Customer"), (20, 2, "Customer"), (30, 3, "Guarantor"), (40, 3, "Customer")}),
    read_bound=100,
    resolved_at=datetime(2026, 11, 29, 9, tzinfo=UTC),
)
# customer 1 re-read: its contract 10 left, 11 came; account 2 un-enrolled since; account 4 enrolled and re-read
CUSTOMERS = planning.Scope(
    accounts=frozenset({1, 3, 4}),
    links=frozenset({(11, 1, "Customer"), (30, 3, "Guarantor"), (40, 3, "Customer"), (50, 4, "Customer")}),
    read_bound=120,
    resolved_at=datetime(2026, 11, 29, 10, tzinfo=UTC),
    customers=frozenset({1, 4}),
)


def persisted(portal, resolution_id):
    loaded = scope.load_resolution(
        portal,
        "select resolution_id, customers, base_resolution_id, read_bound, resolved_at "
        "from aspire_sync.scope_resolution where resolution_id = %(id)s",
        {"id": resolution_id},
    )
    return loaded.accounts, loaded.links


@pytest.mark.parametrize("base_forgotten", [False, True], ids=["copied", "base-forgotten"])
def test_a_customer_resolution_persists_exactly_the_resolved_scope(portal, base_forgotten, caplog):
    base = scope.persist_scope(portal, EVERYONE, None, "d", "everyone", [])
    assert persisted(portal, base.resolution_id) == (EVERYONE.accounts, EVERYONE.links)
    if base_forgotten:  # another run's clean-up deleted the base between reading and copying it
        portal.execute("delete from aspire_sync.scope_account where resolution_id = %s", (base.resolution_id,))
        portal.execute("delete from aspire_sync.scope_contract where resolution_id = %s", (base.resolution_id,))
    mine = scope.persist_scope(portal, CUSTOMERS, base, "d", "customers", [])
    assert persisted(portal, mine.resolution_id) == (CUSTOMERS.accounts, CUSTOMERS.links)
    assert ("was forgotten while it was copied" in caplog.text) == base_forgotten
