"""The portal application's side of enrolment: its users and the ASPIRE accounts each may see.

The sync only reads `portal.portal_user_account`; these functions play the portal creating and removing
users, so demos and tests can enrol customers. Enrolment checks ASPIRE first and writes nothing on bad input.
"""

from __future__ import annotations

import logging
import random

import psycopg

from .sqlfiles import statement

log = logging.getLogger(__name__)


def create_portal_schema(portal_dsn: str) -> None:
    """Creates the portal's minimal schema (portal.portal_user, portal.portal_user_account) if missing."""
    with psycopg.connect(portal_dsn) as conn:
        conn.execute(statement("create_portal_app_schema.sql"))


def account_kind(aspire: psycopg.Connection, account_oid: int) -> bool | None:
    """Whether an ASPIRE account is a customer (holds a Customer role); None when it does not exist."""
    row = aspire.execute(statement("select_account_kind.sql"), {"account_oid": account_oid}).fetchone()
    return None if row is None else row[1]


def _positive(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _candidates(aspire: psycopg.Connection, enrolled: set[int], seed: int) -> list[int]:
    """Customer accounts not enrolled yet, in a seeded order: those with a booked contract first."""
    rows = aspire.execute(statement("portal/select_customer_accounts.sql")).fetchall()
    rng = random.Random(seed)
    booked = [oid for oid, has_booked in rows if has_booked and oid not in enrolled]
    others = [oid for oid, has_booked in rows if not has_booked and oid not in enrolled]
    rng.shuffle(booked)
    rng.shuffle(others)
    return booked + others


def _chosen(aspire_dsn: str, enrolled: set[int], count: int | None, account_oid: int | None, seed: int) -> list[int]:
    with psycopg.connect(aspire_dsn) as aspire:
        if account_oid is not None:
            kind = account_kind(aspire, account_oid)
            if kind is None:
                raise ValueError(f"account {account_oid} does not exist in ASPIRE")
            if not kind:
                raise ValueError(
                    f"account {account_oid} is not a customer (it holds no Customer role on any "
                    "contract); portal users are created for customers"
                )
            return [account_oid]
        candidates = _candidates(aspire, enrolled, seed)
    if len(candidates) < count:
        raise ValueError(f"only {len(candidates)} customer accounts are not enrolled yet, cannot enrol {count}")
    return candidates[:count]


def enroll(
    portal_dsn: str, aspire_dsn: str, *, count: int | None = None, account_oid: int | None = None, seed: int = 0
) -> list[int]:
    """Creates a portal user (user<id>@example.com) for each of the accounts; returns their AccountOids.

    Give `account_oid` (must be an ASPIRE customer; an enrolled one gets one more user) or `count`: that many
    customers not enrolled yet, picked in a seeded order that prefers accounts with a booked contract.
    """
    if (count is None) == (account_oid is None):
        raise ValueError("give either count or account_oid (exactly one)")
    if count is not None:
        _positive(count, "count")
    else:
        _positive(account_oid, "account_oid")
    chosen = _chosen(aspire_dsn, set(enrolled_accounts(portal_dsn)), count, account_oid, seed)
    with psycopg.connect(portal_dsn) as portal:
        for oid in chosen:
            user_id = portal.execute(statement("portal/insert_portal_user.sql")).fetchone()[0]
            portal.execute(statement("portal/insert_portal_user_account.sql"), {"user_id": user_id, "account_oid": oid})
    log.info("enrolled %d account(s) in the portal", len(chosen))
    return chosen


def unenroll(portal_dsn: str, account_oid: int) -> int:
    """Unlinks every portal user from the account (deleting users left with no account); returns links removed."""
    _positive(account_oid, "account_oid")
    with psycopg.connect(portal_dsn) as portal:
        users = [
            row[0]
            for row in portal.execute(
                statement("portal/delete_portal_user_account.sql"), {"account_oid": account_oid}
            ).fetchall()
        ]
        portal.execute(statement("portal/delete_unlinked_portal_users.sql"), {"user_ids": users})
    log.info("unenrolled account %d: %d link(s) removed", account_oid, len(users))
    return len(users)


def enrolled_accounts(portal_dsn: str) -> list[int]:
    """The ASPIRE accounts that have at least one portal user, in key order."""
    with psycopg.connect(portal_dsn) as portal:
        return [row[0] for row in portal.execute(statement("portal/select_enrolled_accounts.sql")).fetchall()]
