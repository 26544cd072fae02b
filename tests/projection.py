"""The source projection the portal must equal: for a set of enrolled accounts, what of each ASPIRE table is in
scope, stated here independently of the extract SQL so a wrong extract is caught.

Each entity maps to (source query over the emulator, portal query), both returning key columns then money
columns, so tests compare key sets, counts and money sums per entity.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import psycopg

SCOPED_CONTRACTS = """
    select r.contractoid from dbo.contractrole r join dbo.contract c on c.contractoid = r.contractoid
    where c.isbooked = 1 and r.roletype in ('Customer', 'Guarantor') and r.accountoid = any(%(accounts)s)
"""
SCOPED_INVOICES = f"""
    select invoiceoid from dbo.invoice where accountoid = any(%(accounts)s) or contractoid in ({SCOPED_CONTRACTS})
"""

SCOPED_SCENARIOS = f"select scenariooid from dbo.contract where contractoid in ({SCOPED_CONTRACTS})"

# entity: (source key columns, source money columns, source scope predicate, target key, target money)
SPEC: dict[str, tuple[str, str, str, str, str]] = {
    "account": ("accountoid", "", "accountoid = any(%(accounts)s)", "account_oid", ""),
    "account_contact": ("contactoid", "", "accountoid = any(%(accounts)s)", "contact_oid", ""),
    "contract": (
        "contractoid",
        "paymentamount, equipmentcost, residualamount",
        f"contractoid in ({SCOPED_CONTRACTS})",
        "contract_oid",
        "payment_amount, equipment_cost, residual_amount",
    ),
    "contract_role": ("contractroleoid", "", f"contractoid in ({SCOPED_CONTRACTS})", "contract_role_oid", ""),
    "invoice": (
        "invoiceoid",
        "amount, balance",
        f"accountoid = any(%(accounts)s) or contractoid in ({SCOPED_CONTRACTS})",
        "invoice_oid",
        "amount, balance",
    ),
    "invoice_detail": (
        "invoicedetailoid",
        "amount, balance",
        f"invoiceoid in ({SCOPED_INVOICES})",
        "invoice_detail_oid",
        "amount, balance",
    ),
    "cash_receipt": (
        "receiptoid",
        "amount",
        f"accountoid = any(%(accounts)s) or contractoid in ({SCOPED_CONTRACTS})",
        "receipt_oid",
        "amount",
    ),
    "contract_scenario": ("scenariooid", "", f"scenariooid in ({SCOPED_SCENARIOS})", "scenario_oid", ""),
    "contract_values": (
        "contractoid",
        "principalbalance, payoffamount, pastdueamount",
        f"contractoid in ({SCOPED_CONTRACTS})",
        "contract_oid",
        "principal_balance, payoff_amount, past_due_amount",
    ),
    "amortization_line": (
        'contractoid, "LineNo"',
        "payment, principal, interest",
        f"contractoid in ({SCOPED_CONTRACTS})",
        "contract_oid, line_no",
        "payment, principal, interest",
    ),
    "equipment": (
        "equipmentoid",
        "currentbasisvalue",
        f"contractoid in ({SCOPED_CONTRACTS})",
        "equipment_oid",
        "current_basis_value",
    ),
    "line_of_credit": (
        "lineofcreditoid",
        "approvedamount, usedamount, availableamount",
        "accountoid = any(%(accounts)s)",
        "line_of_credit_oid",
        "approved_amount, used_amount, available_amount",
    ),
}

SOURCE_TABLES = {
    "account": "account",
    "account_contact": "accountcontact",
    "contract": "contract",
    "contract_role": "contractrole",
    "invoice": "invoice",
    "invoice_detail": "invoicedetail",
    "cash_receipt": "cashreceipt",
    "contract_scenario": "contractscenario",
    "contract_values": "contractvalues",
    "amortization_line": "amortizationline",
    "equipment": "equipment",
    "line_of_credit": "lineofcredit",
}


def source_projection(aspire: psycopg.Connection, entity: str, accounts: list[int]) -> dict[tuple, tuple]:
    """key -> money values of the rows of `entity` in scope for `accounts`, read from the emulator."""
    key, money, predicate, _tk, _tm = SPEC[entity]
    columns = key + (", " + money if money else "")
    query = f"select {columns} from dbo.{SOURCE_TABLES[entity]} where {predicate}"
    return _split(aspire.execute(query, {"accounts": accounts}).fetchall(), key.count(",") + 1)


def portal_rows(portal: psycopg.Connection, entity: str) -> dict[tuple, tuple]:
    """key -> money values of every row of aspire.<entity> in the portal."""
    _k, _m, _p, key, money = SPEC[entity]
    columns = key + (", " + money if money else "")
    return _split(portal.execute(f"select {columns} from aspire.{entity}").fetchall(), key.count(",") + 1)


def _split(rows: list[tuple], key_width: int) -> dict[tuple, tuple]:
    return {tuple(row[:key_width]): tuple(row[key_width:]) for row in rows}


def money_sums(rows: dict[tuple, tuple]) -> tuple[Decimal, ...]:
    """Column sums of the money values."""
    width = len(next(iter(rows.values()), ()))
    return tuple(sum((values[i] for values in rows.values()), Decimal(0)) for i in range(width))


def assert_portal_equals_source(
    aspire: psycopg.Connection, portal: psycopg.Connection, accounts: list[int], entities: Iterable[str] | None = None
) -> dict:
    """Asserts every aspire table (or only those of `entities`) holds exactly the scope of `accounts`; returns the
    row count per entity."""
    counts = {}
    for entity in SPEC if entities is None else entities:
        expected = source_projection(aspire, entity, accounts)
        actual = portal_rows(portal, entity)
        missing = sorted(set(expected) - set(actual))[:5]
        extra = sorted(set(actual) - set(expected))[:5]
        assert not missing and not extra, f"{entity}: missing keys {missing}, keys out of scope {extra}"
        assert len(actual) == len(expected), entity
        assert money_sums(actual) == money_sums(expected), f"{entity}: money sums differ"
        assert actual == expected, f"{entity}: money values differ"
        counts[entity] = len(actual)
    return counts
