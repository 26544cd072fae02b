"""Decisions that need no database: the freshness alert's, ASPIRE's local-time windows, the ids a person types, the
values COPY cannot take, the runbook's commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema
import psycopg
import pytest

from aspire_portal import advice, explain_facts
from aspire_portal.connections import login_refused
from aspire_portal.copystream import unfit
from aspire_portal.freshness import decide
from aspire_portal.model import dialect_of
from aspire_portal.runs import aspire_local_window
from aspire_portal.validation import ACCOUNT_OID_SCHEMA, MAX_ACCOUNT_OID, account_oid_from_text, parse_customer_id

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("firing", "told_firing", "told_at", "notice"),
    [
        (True, False, None, "stale"),  # news
        (True, True, NOW - timedelta(minutes=10), None),  # told 10 minutes ago: quiet
        (True, True, NOW - timedelta(minutes=60), "still_stale"),  # a reminder after the re-alert interval
        (False, True, NOW - timedelta(minutes=5), "fresh_again"),
        (False, False, None, None),
    ],
)
def test_the_person_on_call_is_told_the_news_a_reminder_and_the_end(firing, told_firing, told_at, notice):
    assert decide(firing, told_firing, told_at, NOW, realert_minutes=60) == notice


def test_a_local_window_is_exact_without_a_clock_change():
    start = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    assert aspire_local_window(start, start + timedelta(minutes=15)) == (
        datetime(2026, 12, 4, 12, 0),
        datetime(2026, 12, 4, 12, 15),
    )


def test_a_local_window_over_the_november_change_covers_the_repeated_hour():
    """01:00-02:00 Chicago happens twice on 2026-11-01: a window over either covers both."""
    start = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 CDT
    low, high = aspire_local_window(start, start + timedelta(hours=1))  # to 01:30 CST
    assert low <= datetime(2026, 11, 1, 1, 30) and high >= datetime(2026, 11, 1, 1, 30)
    assert high - low >= timedelta(hours=1)


def test_an_empty_window_is_refused():
    with pytest.raises(ValueError, match="data interval is empty"):
        aspire_local_window(NOW, NOW)


@pytest.mark.parametrize("value", ["-5", "0", "1.5", "abc", str(10**30), None, True, 1.5])
def test_a_customer_id_that_is_not_an_account_oid_is_refused_quoting_what_was_typed(value):
    with pytest.raises(ValueError, match="must be a positive whole number") as refused:
        parse_customer_id(value)
    if isinstance(value, str) and len(value) < 40:
        assert value in str(refused.value)


@pytest.mark.parametrize(
    "n",
    [1, 9, 10, 10**17, 10**18 - 1, 10**18, MAX_ACCOUNT_OID - 10**17, MAX_ACCOUNT_OID - 1, MAX_ACCOUNT_OID]
    + [MAX_ACCOUNT_OID + 1, MAX_ACCOUNT_OID + 10**12, 9999999999999999999, 10**19, 10**30, 0, -5]
    + [MAX_ACCOUNT_OID - 10**k for k in range(19)]
    + [MAX_ACCOUNT_OID + 10**k for k in range(19)],
)
def test_the_forms_schema_takes_the_text_of_an_id_exactly_when_the_tasks_take_it(n):
    """The trigger form's check (ACCOUNT_OID_SCHEMA, on the text as typed) and the tasks' (parse_customer_id) agree
    on every digit string, around the largest AccountOid too: no run starts that the tasks would refuse."""
    text = str(n)
    try:
        parsed = parse_customer_id(text)
    except ValueError:
        parsed = None
    assert parsed == (n if 1 <= n <= MAX_ACCOUNT_OID else None)
    assert jsonschema.Draft202012Validator(ACCOUNT_OID_SCHEMA).is_valid(text) == (parsed is not None)


@pytest.mark.parametrize(("value", "oid"), [(1000467, 1000467), ("1000467", 1000467), (1000467.0, 1000467)])
def test_a_customer_id_is_read_as_the_account_oid_it_spells(value, oid):
    assert parse_customer_id(value) == oid


@pytest.mark.parametrize(
    ("text", "oid"),
    [("42", 42), ("42.00", 42), (" 42 ", 42), ("0", None), ("-3", None), ("4.5", None), ("x", None), (None, None)],
)
def test_an_enrolment_value_is_read_by_what_it_spells(text, oid):
    assert account_oid_from_text(text) == oid


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (("a\x00b", 1), "NUL character"),
        (("\ud800", 1), "not valid Unicode"),
        (("ok", 2**63), "beyond the range of a bigint"),
        (("ok", 2**63 - 1), None),
    ],
)
def test_values_no_postgresql_column_can_hold_are_named(row, problem):
    found = unfit(["name", "n"], row)
    assert (found is None) if problem is None else (problem in found)


def test_the_runbook_commands_name_the_dag_and_the_customer():
    assert "airflow dags trigger aspire_portal_incremental --conf '{\"allow_mass_removal\": true}'" in (
        advice.mass_removal("aspire_portal_incremental")
    )
    assert advice.trigger_full_sync(1000467) == (
        "airflow dags trigger aspire_portal_customer_full_sync --conf '{\"customer_id\": 1000467}'"
    )


def test_the_next_daily_refresh_is_at_four_in_chicago_across_the_clock_change():
    assert explain_facts.next_daily(datetime(2026, 11, 1, 3, 0, tzinfo=UTC)).startswith("2026-11-01 04:00")
    assert "(10:00 UTC)" in explain_facts.next_daily(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))


def test_a_source_the_extracts_do_not_speak_is_refused():
    assert dialect_of("postgresql") == "postgres" and dialect_of("mssql") == "mssql"
    with pytest.raises(ValueError, match="not a supported ASPIRE source"):
        dialect_of("mysql")


@pytest.mark.parametrize(
    ("message", "refused"),
    [
        ('connection to server at "db", port 5432 failed: FATAL:  password authentication failed for user "s"', True),
        ('connection to server at "db", port 5432 failed: fe_sendauth: no password supplied', True),
        ('connection to server at "db", port 5432 failed: FATAL:  role "s" does not exist', True),
        ('connection to server at "db", port 5432 failed: FATAL:  role "s" is not permitted to log in', True),
        ('FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "s", database "portal", no encryption', True),
        ('connection to server at "db", port 5432 failed: FATAL:  too many connections for role "s"', False),
        ('connection to server at "db", port 5432 failed: Connection refused', False),
        ("FATAL:  the database system is starting up", False),
    ],
)
def test_only_a_refused_login_is_not_worth_a_retry(message, refused):
    assert login_refused(psycopg.OperationalError(message)) is refused
    assert not login_refused(ValueError(message))  # an error of another kind, whatever it says
