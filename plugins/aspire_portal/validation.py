"""Checks on input from outside the sync (trigger params), with errors that say what was wrong.

The DAGs' params carry the same bounds as JSON schema (`ACCOUNT_OID_SCHEMA`), so the UI form and the REST API refuse
an out-of-range id before a run exists; the tasks check again with these functions (a run's conf reaches them as
rendered text).
"""

from __future__ import annotations

import re
from typing import Any

MAX_ACCOUNT_OID = 2**63 - 1  # AccountOid is a SQL Server bigint
ACCOUNT_OID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ACCOUNT_OID}
_WHOLE = re.compile(r"^\+?([0-9]+)(?:\.0*)?$")
_EXACT_FLOAT = 2**53  # above it a float is not an exact integer: 9.2e18 could be any of ~1,000 ids


def parse_customer_id(value: Any, name: str = "customer_id", column: str = "AccountOid") -> int:
    """`value` as an ASPIRE AccountOid (or another bigint id, `column`: 1 .. 2**63-1), or ValueError saying what was
    wrong. A whole number given as a float (1000509.0, as JSON clients and templates may render it) is taken as that
    integer."""
    what = f"{name} must be a positive whole number, an ASPIRE {column} (1 to {MAX_ACCOUNT_OID})"
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what}; got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{what}; got {value!r}, which is not a whole number")
        if abs(value) > _EXACT_FLOAT:
            raise ValueError(
                f"{what}; got {value!r}, a floating-point number too large to name one id exactly: "
                "send it as an integer"
            )
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and (match := _WHOLE.match(value.strip())):
        number = int(match[1])
    elif isinstance(value, str) and re.fullmatch(r"-[0-9]+(?:\.0*)?", value.strip()):
        raise ValueError(f"{what}; got {value!r}, which is negative")
    else:
        raise ValueError(f"{what}; got {value!r}, which is not a whole number")
    if number < 1:
        raise ValueError(f"{what}; got {value!r}, which is {'zero' if number == 0 else 'negative'}")
    if number > MAX_ACCOUNT_OID:
        raise ValueError(f"{what}; got {value!r}, which is larger than the largest {column} ({MAX_ACCOUNT_OID})")
    return number
