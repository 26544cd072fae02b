"""The portal's enrolment column is read by the value it spells, whatever its type: an integer column takes a
shorter road through the statement than a text one, and both must come out the same."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aspire_emulator import portal as portal_app
from aspire_portal import enrolment

# the edges of "a plain AccountOid": zero, negatives, 18 and 19 digits, the bigint limits
EDGES = [1, 7, 0, -1, -42, 10**17, 10**18 - 1, 10**18, 2**63 - 1, -(2**63)]


@pytest.fixture(scope="module")
def portal(fresh_database):
    dsn = fresh_database("enrolment_values")
    portal_app.create_portal_schema(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


def enrolled_as(conn: psycopg.Connection, column_type: str, links: list[tuple[int, int]]):
    conn.execute("delete from portal.portal_user_account")
    conn.execute(
        f"alter table portal.portal_user_account alter column account_oid type {column_type}"
        f" using account_oid::{column_type}"
    )
    with conn.cursor() as cursor:
        cursor.executemany(
            "insert into portal.portal_user_account (user_id, account_oid) values (%s, %s)",
            [(user, str(oid) if column_type == "text" else oid) for user, oid in links],
        )
    good, bad = enrolment.enrolled_accounts(conn)
    return good, sorted((q.value, q.reason, q.portal_users) for q in bad)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.integers(1, 5), st.one_of(st.sampled_from(EDGES), st.integers(-(2**63), 2**63 - 1))),
        min_size=1,
        max_size=12,
        unique=True,
    )
)
def test_an_integer_column_reads_as_its_text_would(portal, links):
    users = {user for user, _oid in links}
    portal.execute("delete from portal.portal_user_account")
    portal.execute("delete from portal.portal_user")
    for user in users:
        portal.execute(
            "insert into portal.portal_user (user_id, email) overriding system value values (%s, %s)",
            (user, f"user{user}@example.com"),
        )
    as_text = enrolled_as(portal, "text", links)
    as_bigint = enrolled_as(portal, "bigint", links)
    assert as_bigint == as_text
    good, bad = as_bigint
    assert set(good) == {oid for _user, oid in links if oid > 0}
    assert {value for value, _reason, _users in bad} == {str(oid) for _user, oid in links if oid <= 0}
