"""The portal's enrolment table read by value: which ASPIRE accounts have a portal user.

portal.portal_user_account is the portal's table, input from outside the sync: each value is read by what it spells,
not by the column's type (any integer type, a numeric without a fraction, text of digits), and one bad value is
skipped (quarantined, with a warning), never fatal to the others. Only when every value is skipped is it an error:
an empty scope would remove every customer from the portal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

from aspire_portal import advice, sqlfiles
from aspire_portal.model import EnrolmentUnreadable
from aspire_portal.validation import account_oid_from_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quarantined:
    """A value of portal.portal_user_account.account_oid the sync skips: `value` as text, why, and how many portal
    users it links."""

    value: str
    reason: str
    portal_users: int


NOT_AN_ACCOUNT_OID = "not a whole number from 1 to 9223372036854775807 (an ASPIRE AccountOid)"
NO_ASPIRE_ACCOUNT = "names no ASPIRE account (no dbo.Account row with this AccountOid)"


def enrolled_accounts(target: psycopg.Connection) -> tuple[dict[int, int], list[Quarantined]]:
    """The enrolled accounts from the portal's link table (with how many portal users each), and the values skipped
    because they spell no AccountOid. The table is the portal's, input from outside the sync: each value is read by
    what it spells, not by the column's type (any integer type, a numeric without a fraction, text of digits), and
    one bad row is skipped, never fatal to the others."""
    with target.cursor(binary=True) as cursor:  # arrays in one row: binary arrays decode in C
        oids, oid_users, others, other_users = cursor.execute(
            sqlfiles.read("scope/select_enrolled_accounts.sql")
        ).fetchone()
    good: dict[int, int] = dict(zip(oids, oid_users, strict=True))  # plain digits, converted by the server
    bad = []
    for value, users in zip(others, other_users, strict=True):
        oid = account_oid_from_text(value)
        if oid is None:
            bad.append(Quarantined("(null)" if value is None else str(value), NOT_AN_ACCOUNT_OID, users))
        else:  # '42' and '42.00' spell the same account
            good[oid] = good.get(oid, 0) + users
    return good, bad


def existing_accounts(source: Any, accounts: Iterable[int], dialect: str) -> tuple[set[int], int]:
    """Which of `accounts` are ASPIRE accounts, and the newest row version among their rows (0 for none)."""
    accounts = sorted(accounts)
    if not accounts:
        return set(), 0
    with source.cursor() as cursor:
        cursor.execute(
            sqlfiles.render("extract/select_existing_accounts.sql", dialect=dialect), {"accounts": json.dumps(accounts)}
        )
        rows = cursor.fetchall()
    return {int(oid) for oid, _version in rows}, max((int(version) for _oid, version in rows), default=0)


def checked(
    enrolled: dict[int, int], bad: list[Quarantined], unknown: set[int], *, everyone: bool
) -> tuple[tuple[int, ...], list[Quarantined]]:
    """The enrolled accounts ASPIRE knows (`unknown`: those it does not), and every enrolment value skipped
    (quarantined), each with a warning. A scope of `everyone` that would come out empty because every value was
    skipped is refused (EnrolmentUnreadable)."""
    if everyone and bad and not enrolled:
        raise EnrolmentUnreadable(
            f"every one of the {len(bad)} enrolment value(s) in portal.portal_user_account.account_oid was skipped "
            f"({bad[0].value!r}: {bad[0].reason}): did the portal change the column's type or meaning? Resolving them "
            "to an empty scope would remove every customer from the portal, so nothing is loaded. "
            + advice.ENROLMENT_UNREADABLE
        )
    if everyone and enrolled and not set(enrolled) - unknown:
        raise EnrolmentUnreadable(
            f"none of the {len(enrolled)} enrolled account(s) in portal.portal_user_account names an ASPIRE account "
            f"(e.g. {min(enrolled)}): does the aspire connection point at the right ASPIRE database? Resolving them to "
            "an empty scope would remove every customer from the portal, so nothing is loaded."
        )
    bad = bad + [Quarantined(str(oid), NO_ASPIRE_ACCOUNT, enrolled[oid]) for oid in sorted(unknown)]
    for item in bad:
        log.warning(
            "Skipped the enrolment of account_oid %s in portal.portal_user_account (%d portal user(s)): "
            "it is %s. Every other customer syncs; see aspire_sync.enrolment_quarantine.",
            item.value,
            item.portal_users,
            item.reason,
        )
    return tuple(a for a in enrolled if a not in unknown), bad
