"""The facts `explain` decides on, read from ASPIRE and the portal: a contract and its parties, the portal's rows of
it, whether its entity holds it, and when the next runs are. Reads only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pendulum
import psycopg

from aspire_portal import advice, catalogue, settings, sqlfiles

SCOPE_ROLES = ("Customer", "Guarantor")


@dataclass
class Party:
    account_oid: int
    role: str
    enrolled: bool


@dataclass
class Contract:
    """A contract as ASPIRE has it now, and whether the scope rule takes it in."""

    oid: int
    found: bool
    booked: bool = False
    parties: list[Party] = field(default_factory=list)

    @property
    def bringers(self) -> list[Party]:
        return [p for p in self.parties if p.role in SCOPE_ROLES and p.enrolled]

    @property
    def in_scope(self) -> bool:
        return self.found and self.booked and bool(self.bringers)

    def describe(self) -> str:
        if not self.found:
            return f"contract {self.oid}: not in ASPIRE"
        parties = (
            ", ".join(
                f"{p.role} {p.account_oid} ({'enrolled' if p.enrolled else 'not enrolled'})"
                for p in self.parties
                if p.role in SCOPE_ROLES
            )
            or "no Customer or Guarantor"
        )
        return f"contract {self.oid}: {'booked' if self.booked else 'not booked'}; {parties}"


def rows_of_contract(target: psycopg.Connection, oid: int) -> dict[str, int]:
    """How many rows of each contract-linked portal table belong to contract `oid` (those it has any of)."""
    counts = {}
    for entity in catalogue.ENTITIES:
        if entity.owner in ("contract", "account_or_contract", "invoice"):
            statement = sqlfiles.render("explain/select_rows_of_contract.sql", target=entity.target_table)
            counts[entity.name] = target.execute(statement, {"id": oid}).fetchone()[0]
    return {name: n for name, n in counts.items() if n}


def held(target: psycopg.Connection, entity: catalogue.Entity, kind: str, oid: int, row: dict | None) -> bool:
    if row is None:
        return False
    accounts = [oid] if kind == "customer" else [int(row["account_oid"])] if "account_oid" in row else []
    contracts = [oid] if kind == "contract" else [int(row["contract_oid"])] if row.get("contract_oid") else []
    return target.execute(
        sqlfiles.read("explain/select_held.sql"),
        {
            "entity": entity.name,
            "accounts": accounts if entity.follows_accounts else [],
            "contracts": contracts if entity.follows_contracts else [],
        },
    ).fetchone()[0]


def source_row(source: Any, dialect: str, path: str, oid: int) -> dict | None:
    with source.cursor() as cursor:
        cursor.execute(sqlfiles.render(path, dialect=dialect), {"id": oid})
        row = cursor.fetchone()
        names = [d[0] for d in cursor.description]
    return dict(zip(names, row, strict=True)) if row else None


def contract(source: Any, dialect: str, oid: int, enrolled: dict[int, int]) -> Contract:
    row = source_row(source, dialect, "explain/select_contract.sql", oid)
    if row is None:
        return Contract(oid, found=False)
    with source.cursor() as cursor:
        cursor.execute(sqlfiles.read("explain/select_contract_roles.sql"), {"id": oid})
        roles = cursor.fetchall()
    return Contract(
        oid,
        found=True,
        booked=bool(row["is_booked"]),
        parties=[Party(int(a), str(r), int(a) in enrolled) for a, r in roles],
    )


def next_quarter(now: datetime) -> str:
    start = now.replace(second=0, microsecond=0, minute=now.minute - now.minute % 15) + timedelta(minutes=15)
    return f"{start:%H:%M} UTC, if the DAG is unpaused"


def next_daily(now: datetime) -> str:
    local = pendulum.instance(now).in_timezone(settings.DAILY_TIMEZONE)
    at = local.replace(hour=settings.DAILY_AT[0], minute=settings.DAILY_AT[1], second=0, microsecond=0)
    if at <= local:
        at = at.add(days=1)
    return f"{at:%Y-%m-%d %H:%M} {settings.DAILY_TIMEZONE} ({at.in_timezone('UTC'):%H:%M} UTC)"


def open_transactions_query(dialect: str) -> str:
    """Who holds a transaction open on ASPIRE, as a query a person pastes."""
    if dialect == "mssql":
        return f"(on ASPIRE, to find it) {advice.HELD_OPEN_TRANSACTION_MSSQL}"
    return f"(on the emulator, to find it) {advice.HELD_OPEN_TRANSACTION_EMULATOR}"
