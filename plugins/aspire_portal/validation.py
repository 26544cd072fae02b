"""Checks on input from outside the sync (trigger params), with errors that say what was wrong."""

from __future__ import annotations

import re
from typing import Any

MAX_ACCOUNT_OID = 2**63 - 1
_DIGITS = re.compile(r"^[0-9]+$")


def parse_customer_id(value: Any) -> int:
    """`customer_id` as a positive integer (the ASPIRE AccountOid), or ValueError saying what was wrong."""
    if isinstance(value, bool):
        raise ValueError(f"customer_id must be a positive integer (an ASPIRE AccountOid), got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.match(value.strip()):
        number = int(value.strip())
    else:
        raise ValueError(f"customer_id must be a positive integer (an ASPIRE AccountOid), got {value!r}")
    if not 1 <= number <= MAX_ACCOUNT_OID:
        raise ValueError(f"customer_id must be a positive integer (an ASPIRE AccountOid), got {value!r}")
    return number
