"""Checks on input from outside the sync (trigger params), with errors that say what was wrong.

The DAGs' params carry the same bounds as JSON schema (`ACCOUNT_OID_SCHEMA`), so the UI form and the REST API refuse
a bad id before a run exists; the tasks check again, and convert, with `parse_customer_id` (a run's conf reaches them
as rendered text).

An id is text in the UI's form, never a number: Airflow's form renders an `integer` param as a number input, which on
blur clamps what was typed to the bounds (-5 became 1) and rounds it to a JavaScript double (10**30 became
9223372036854776000), and the run then named another id than the one typed. A param without a `type` is a plain text
box whose text goes to the REST API as typed; the schema takes that text when it spells an id, and takes an integer
too (REST clients send `{"customer_id": 42}`).
"""

from __future__ import annotations

import re
from typing import Any

MAX_ACCOUNT_OID = 2**63 - 1  # AccountOid is a SQL Server bigint


def _digits_above(bound: int) -> str:
    """A regular expression matching the digit strings of `bound`'s length that spell a larger number."""
    digits = str(bound)
    larger = [f"{digits[:i]}[{int(d) + 1}-9][0-9]{{{len(digits) - i - 1}}}" for i, d in enumerate(digits) if d != "9"]
    return f"^(?:{'|'.join(larger)})$"


# The text of an id, as typed: digits without a sign, a leading zero, spaces or a fraction; at most 19 of them, and
# not above the largest bigint. That bound is a second pattern, apart: Airflow's error message prints the part of the
# schema that refused the value, and the exact range in one pattern is a regular expression nobody could read there.
ACCOUNT_OID_PATTERN = "^[1-9][0-9]{0,18}$"
ACCOUNT_OID_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": ACCOUNT_OID_PATTERN},
        {"type": "integer", "minimum": 1, "maximum": MAX_ACCOUNT_OID},
    ],
    "not": {"type": "string", "pattern": _digits_above(MAX_ACCOUNT_OID)},
}
_WHOLE = re.compile(r"^\+?([0-9]+)(?:\.0*)?$")
# The AccountOid a value of the portal's enrolment column spells, whatever the column's type: an integer, a numeric
# with no fraction, or text of digits. The same pattern is macros/sync.sql's account_oid_of(), so the sync's SQL and
# its Python read the column alike.
_ACCOUNT_OID_TEXT = re.compile(r"^[ \t\n\r\f\v]*\+?0*([1-9][0-9]{0,18})(?:\.0*)?[ \t\n\r\f\v]*$")
_EXACT_FLOAT = 2**53  # above it a float is not an exact integer: 9.2e18 could be any of ~1,000 ids


def parse_customer_id(value: Any, name: str = "customer_id", column: str = "AccountOid") -> int:
    """`value` as an ASPIRE AccountOid (or another bigint id, `column`: 1 .. 2**63-1), or ValueError saying what was
    wrong. A whole number given as a float (1000509.0, as JSON clients and templates may render it) is taken as that
    integer."""
    what = f"{name} must be a positive whole number, an ASPIRE {column} (1 to {MAX_ACCOUNT_OID})"
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what}; got {_quoted(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{what}; got {_quoted(value)}, which is not a whole number")
        if abs(value) > _EXACT_FLOAT:
            raise ValueError(
                f"{what}; got {_quoted(value)}, a floating-point number too large to name one id exactly: "
                "send it as an integer"
            )
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and (match := _WHOLE.match(value.strip())):
        digits = match[1].lstrip("0")
        if len(digits) > len(str(MAX_ACCOUNT_OID)):  # int() of thousands of digits is refused by Python itself
            raise ValueError(
                f"{what}; got {_quoted(value)}, which is larger than the largest {column} ({MAX_ACCOUNT_OID})"
            )
        number = int(digits or "0")
    elif isinstance(value, str) and re.fullmatch(r"-[0-9]+(?:\.0*)?", value.strip()):
        raise ValueError(f"{what}; got {_quoted(value)}, which is negative")
    else:
        raise ValueError(f"{what}; got {_quoted(value)}, which is not a whole number")
    if number < 1:
        raise ValueError(f"{what}; got {_quoted(value)}, which is {'zero' if number == 0 else 'negative'}")
    if number > MAX_ACCOUNT_OID:
        raise ValueError(f"{what}; got {_quoted(value)}, which is larger than the largest {column} ({MAX_ACCOUNT_OID})")
    return number


def account_oid_from_text(value: str | None) -> int | None:
    """The ASPIRE AccountOid that one value of the portal's enrolment column spells (read as text, so any integer
    type, a numeric without a fraction, or text of digits), or None when it spells none: not a whole number from 1
    to 9223372036854775807."""
    match = _ACCOUNT_OID_TEXT.match(value) if value is not None else None
    if match is None:
        return None
    number = int(match[1])
    return number if number <= MAX_ACCOUNT_OID else None


def _quoted(value: Any) -> str:
    """`value` as the error quotes it: in full when short, else its start, end and length (a 5,000-digit id)."""
    if isinstance(value, int) and value.bit_length() > 4096:  # repr() of such an int is refused by Python itself
        return f"an integer of about {int(value.bit_length() * 0.30103):,} digits"
    text = repr(value)
    return (
        text
        if len(text) <= 60
        else f"{text[:25]}...{text[-10:]} ({len(value) if isinstance(value, str) else len(text):,} characters)"
    )
