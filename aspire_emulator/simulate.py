"""ASPIRE's day-to-day activity, replayed as the ordinary committed transactions its users would make.

The sync must find every change through row versions, so the simulator changes ASPIRE only with plain
inserts, updates and deletes, one transaction per event (the trigger stamps RowVer and LastModifiedAt).
Each event is a small public function a test can aim at an explicit row; left out, the row is picked
pseudo-randomly from those that qualify. `target` is a DSN (the event opens and commits its own
connection) or an open connection (the event runs in `conn.transaction()`: use an autocommit
connection, or the event commits only with its caller). Each event returns the keys it touched by table,
e.g. {"Invoice": [10000123], "InvoiceDetail": [20000301, 20000302]}; money arguments are in dollars.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from . import portfolio as pf
from . import vocabulary as vocab
from .catalog import COLUMNS, ID_RANGES
from .finance import add_months, amortize, cents, due_dates, level_payment, money, rate_micro
from .portal import account_kind
from .portfolio import ContractPlan, Row
from .sqlfiles import statement

log = logging.getLogger(__name__)

Target = str | psycopg.Connection
Touched = dict[str, list]
Money = Decimal | int | str

ROLE_TYPES = ("Customer", "Guarantor", "CoLessee", "Vendor")


class NoCandidate(LookupError):
    """No row qualifies for an event (e.g. every contract is booked already)."""


# --- plumbing ----------------------------------------------------------------------------------------------


@contextmanager
def _transaction(target: Target) -> Iterator[psycopg.Connection]:
    """One event's transaction: committed when the block ends, rolled back if it raises."""
    if isinstance(target, psycopg.Connection):
        with target.transaction():
            yield target
    else:
        with psycopg.connect(target) as conn:
            yield conn


def _rows(conn: psycopg.Connection, name: str, **params: Any) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(statement(f"simulate/{name}.sql"), params)
        return cur.fetchall() if cur.description else []


def _row(conn: psycopg.Connection, name: str, **params: Any) -> dict | None:
    rows = _rows(conn, name, **params)
    return rows[0] if rows else None


def _today(conn: psycopg.Connection) -> date:
    """ASPIRE's business date, which honours a session's `set aspire.now`."""
    return _row(conn, "select_today")["today"]


def _pick(conn: psycopg.Connection, what: str, rng: random.Random) -> int:
    """A pseudo-random qualifying row's key: the first at or after a random point of the key range."""
    for fraction in (rng.random(), 0.0):
        row = _row(conn, f"pick_{what}", fraction=fraction)
        if row:
            return row["oid"]
    raise NoCandidate(f"no {what.replace('_', ' ')} in ASPIRE to change")


def _insert_statement(table: str) -> str:
    """insert_<table>.sql; ContractValues (one row per contract, rewritten as it changes) is an upsert."""
    if table == "ContractValues":
        return statement("simulate/upsert_contract_values.sql")
    return statement(f"simulate/insert_{re.sub(r'(?<!^)(?=[A-Z])', '_', table).lower()}.sql")


def _insert(conn: psycopg.Connection, table: str, rows: list[Row]) -> list:
    """Inserts catalogue-ordered row tuples into dbo.`table`; returns their keys."""
    if rows:
        columns = COLUMNS[table]
        with conn.cursor() as cur:
            cur.executemany(_insert_statement(table), [dict(zip(columns, r, strict=True)) for r in rows])
    if table == "AmortizationLine":
        return [(row[0], row[1]) for row in rows]
    return [row[0] for row in rows]


class _SequenceIds:
    """New surrogate keys from the dbo id sequences, as ASPIRE allocates them."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def __call__(self, table: str) -> int:
        return _row(self.conn, "select_next_id", sequence=ID_RANGES[table].sequence)["oid"]


def _contract(conn: psycopg.Connection, contract_oid: int) -> ContractPlan:
    """The contract as a plan (the generator's model), locked for the event."""
    row = _row(conn, "select_contract", contract_oid=contract_oid)
    if row is None:
        raise ValueError(f"contract {contract_oid} does not exist in ASPIRE")
    phone = row["phone"] or "(312)"
    place = (row["city"], row["state"], (row["postalcode"] or "")[:3], phone[1:4])
    return ContractPlan(
        oid=row["contractoid"],
        customer=row["customeraccountoid"],
        place=place,
        scenario=_scenario(conn, row["scenariooid"]),
        line_of_credit=row["lineofcreditoid"],
        status=row["status"],
        booked=row["isbooked"] == 1,
        booked_date=row["bookeddate"],
        commencement=row["commencementdate"],
        maturity=row["maturitydate"],
        termination=row["terminationdate"],
        term=row["termmonths"],
        frequency=row["paymentfrequency"],
        timing=row["paymenttiming"],
        payment=cents(row["paymentamount"]),
        cost=cents(row["equipmentcost"]),
        residual=cents(row["residualamount"]),
        rate=rate_micro(row["rate"]),
    )


def _scenario(conn: psycopg.Connection, scenario_oid: int) -> pf.Scenario:
    """The generator's scenario, or one defined later in ASPIRE (new_scenario), read from dbo.ContractScenario."""
    if scenario_oid in pf.SCENARIO_BY_OID:
        return pf.SCENARIO_BY_OID[scenario_oid]
    row = _row(conn, "select_scenario", scenario_oid=scenario_oid)
    if row is None:
        raise ValueError(f"contract scenario {scenario_oid} does not exist in ASPIRE")
    return pf.Scenario(row["scenariooid"], row["name"], row["producttype"], row["purchaseoption"], 0.0)


def _commenced(plan: ContractPlan, action: str) -> None:
    if not (plan.booked and plan.status == "Commenced"):
        raise ValueError(
            f"contract {plan.oid} is {plan.status} (booked={int(plan.booked)}); "
            f"only booked, commenced contracts can be {action}"
        )


def _shift_details(conn: psycopg.Connection, invoice_oid: int, paid: int) -> list[int]:
    """Applies `paid` cents to an invoice's details in order (negative: gives it back, last detail first)."""
    details = _rows(conn, "select_invoice_details", invoice_oid=invoice_oid)
    if paid < 0:
        details.reverse()
    changed = []
    for detail in details:
        if paid == 0:
            break
        amount, balance = cents(detail["amount"]), cents(detail["balance"])
        step = min(balance, paid) if paid > 0 else -min(amount - balance, -paid)
        if step:
            _rows(
                conn,
                "update_invoice_detail_balance",
                invoice_detail_oid=detail["invoicedetailoid"],
                balance=money(balance - step),
            )
            changed.append(detail["invoicedetailoid"])
            paid -= step
    return changed


def _rng(rng: random.Random | None) -> random.Random:
    return rng if rng is not None else random.Random(0)


# --- billing and cash ----------------------------------------------------------------------------------------


def new_invoice(target: Target, contract_oid: int | None = None, *, rng: random.Random | None = None) -> Touched:
    """Bills a commenced contract's next period: rent (the scheduled payment) and sales tax where due."""
    rng = _rng(rng)
    with _transaction(target) as conn:
        plan = _contract(conn, contract_oid or _pick(conn, "billable_contract", rng))
        _commenced(plan, "billed")
        today = _today(conn)
        last = _row(conn, "select_last_invoice_due", contract_oid=plan.oid)["due_date"]
        months = plan.months_per_period
        first = plan.commencement if plan.advance else add_months(plan.commencement, months)
        due = add_months(last, months) if last else first
        scheduled = _row(conn, "select_scheduled_payment", contract_oid=plan.oid, due_date=due)
        rent = cents(scheduled["payment"]) if scheduled else plan.payment
        amounts = [("Rent", rent)]
        if plan.place[1] not in vocab.UNTAXED_STATES:
            amounts.append(("SalesTax", (rent * 725 + 5_000) // 10_000))
        ids = _SequenceIds(conn)
        invoice_oid = ids("Invoice")
        total = money(sum(amount for _, amount in amounts))
        invoice = (
            invoice_oid,
            pf.invoice_number(invoice_oid),
            plan.customer,
            plan.oid,
            min(today, due),
            due,
            total,
            total,
            "Open",
        )
        details = [(ids("InvoiceDetail"), invoice_oid, plan.oid, code, money(a), money(a)) for code, a in amounts]
        _insert(conn, "Invoice", [invoice])
        return {"Invoice": [invoice_oid], "InvoiceDetail": _insert(conn, "InvoiceDetail", details)}


def post_receipt(
    target: Target,
    invoice_oid: int | None = None,
    *,
    amount: Money | None = None,
    method: str = "ACH",
    rng: random.Random | None = None,
) -> Touched:
    """Posts a payment against an open invoice (all of its balance unless `amount` is given)."""
    rng = _rng(rng)
    if method not in pf.METHODS[0]:
        raise ValueError(f"method must be one of {', '.join(pf.METHODS[0])}, got {method!r}")
    with _transaction(target) as conn:
        invoice_oid = invoice_oid or _pick(conn, "open_invoice", rng)
        invoice = _row(conn, "select_invoice", invoice_oid=invoice_oid)
        if invoice is None:
            raise ValueError(f"invoice {invoice_oid} does not exist in ASPIRE")
        balance = cents(invoice["balance"])
        if invoice["status"] not in ("Open", "PartiallyPaid") or balance <= 0:
            raise ValueError(
                f"invoice {invoice_oid} has nothing to pay (status {invoice['status']}, balance {money(balance)})"
            )
        paid = balance if amount is None else cents(amount)
        if not 0 < paid <= balance:
            raise ValueError(f"amount must be more than 0 and at most the balance {money(balance)}, got {amount}")
        today = _today(conn)
        receipt = (
            _SequenceIds(conn)("CashReceipt"),
            invoice["accountoid"],
            invoice["contractoid"],
            today,
            today,
            money(paid),
            method,
            "Posted",
            pf.reference_number(rng, method),
        )
        receipts = _insert(conn, "CashReceipt", [receipt])
        details = _shift_details(conn, invoice_oid, paid)
        left = balance - paid
        _rows(
            conn,
            "update_invoice_balance",
            invoice_oid=invoice_oid,
            balance=money(left),
            status="Paid" if left == 0 else "PartiallyPaid",
        )
        return {"CashReceipt": receipts, "Invoice": [invoice_oid], "InvoiceDetail": details}


def reverse_receipt(target: Target, receipt_oid: int | None = None, *, rng: random.Random | None = None) -> Touched:
    """Reverses a posted receipt (a bounced check); its money comes off the contract's latest paid invoices."""
    rng = _rng(rng)
    with _transaction(target) as conn:
        receipt_oid = receipt_oid or _pick(conn, "posted_receipt", rng)
        receipt = _row(conn, "select_receipt", receipt_oid=receipt_oid)
        if receipt is None:
            raise ValueError(f"receipt {receipt_oid} does not exist in ASPIRE")
        if receipt["status"] != "Posted":
            raise ValueError(f"receipt {receipt_oid} is {receipt['status']}; only posted receipts can be reversed")
        _rows(conn, "update_receipt_status", receipt_oid=receipt_oid, status="Reversed")
        touched: Touched = {"CashReceipt": [receipt_oid], "Invoice": [], "InvoiceDetail": []}
        remaining = cents(receipt["amount"])
        paid_invoices = _rows(conn, "select_paid_invoices", contract_oid=receipt["contractoid"])
        for invoice in paid_invoices:
            if remaining == 0:
                break
            amount, balance = cents(invoice["amount"]), cents(invoice["balance"])
            restored = min(remaining, amount - balance)
            _rows(
                conn,
                "update_invoice_balance",
                invoice_oid=invoice["invoiceoid"],
                balance=money(balance + restored),
                status="Open" if balance + restored == amount else "PartiallyPaid",
            )
            touched["Invoice"].append(invoice["invoiceoid"])
            touched["InvoiceDetail"] += _shift_details(conn, invoice["invoiceoid"], -restored)
            remaining -= restored
        return touched


def reverse_invoice(target: Target, invoice_oid: int | None = None, *, rng: random.Random | None = None) -> Touched:
    """Reverses an invoice billed in error; only one nothing has been paid on."""
    rng = _rng(rng)
    with _transaction(target) as conn:
        invoice_oid = invoice_oid or _pick(conn, "unpaid_invoice", rng)
        invoice = _row(conn, "select_invoice", invoice_oid=invoice_oid)
        if invoice is None:
            raise ValueError(f"invoice {invoice_oid} does not exist in ASPIRE")
        if invoice["status"] in ("Reversed", "Cancelled") or invoice["balance"] != invoice["amount"]:
            paid = invoice["amount"] - invoice["balance"]
            raise ValueError(
                f"invoice {invoice_oid} is {invoice['status']} with {paid} paid; only an invoice with "
                "nothing paid can be reversed (reverse its receipts first)"
            )
        _rows(conn, "update_invoice_reversed", invoice_oid=invoice_oid)
        details = [
            row["invoicedetailoid"] for row in _rows(conn, "update_invoice_details_reversed", invoice_oid=invoice_oid)
        ]
        return {"Invoice": [invoice_oid], "InvoiceDetail": details}


# --- contracts -----------------------------------------------------------------------------------------------


def book_contract(target: Target, contract_oid: int | None = None, *, rng: random.Random | None = None) -> Touched:
    """Books an unbooked contract: it commences today, with its schedule, equipment (if missing) and values."""
    rng = _rng(rng)
    with _transaction(target) as conn:
        plan = _contract(conn, contract_oid or _pick(conn, "unbooked_contract", rng))
        if plan.booked or plan.status != "UnCommenced":
            raise ValueError(
                f"contract {plan.oid} is {plan.status} (booked={int(plan.booked)}); "
                "only an unbooked UnCommenced contract can be booked"
            )
        today = _today(conn)
        plan.booked, plan.status = True, "Commenced"
        plan.booked_date = plan.commencement = today
        plan.maturity = add_months(today, plan.term)
        plan.payment = level_payment(plan.cost, plan.residual, plan.rate, plan.per_year, plan.periods, plan.advance)
        _rows(
            conn,
            "update_contract_booking",
            contract_oid=plan.oid,
            booked_date=today,
            commencement_date=today,
            maturity_date=plan.maturity,
            payment_amount=money(plan.payment),
        )
        has_equipment = _row(conn, "select_equipment_count", contract_oid=plan.oid)["equipment_count"] > 0
        rows = pf.contract_rows(
            plan, rng.randrange(2**31), _SequenceIds(conn), today, equipment=not has_equipment, bill=False
        )
        touched: Touched = {"Contract": [plan.oid]}
        for table in ("Equipment", "AmortizationLine", "ContractValues"):
            touched[table] = _insert(conn, table, rows[table])
        return touched


def transfer_contract(target: Target, contract_oid: int, to_account: int) -> Touched:
    """Transfers a contract to another customer (an assumption or a sale of the lease): its Customer role, the
    contract and the invoices and receipts raised on it move to `to_account`."""
    with _transaction(target) as conn:
        plan = _contract(conn, contract_oid)
        if account_kind(conn, to_account) is None:
            raise ValueError(f"account {to_account} does not exist in ASPIRE")
        _rows(conn, "update_contract_customer", contract_oid=plan.oid, account_oid=to_account)
        return {"Contract": [plan.oid]}


def unbook_contract(target: Target, contract_oid: int) -> Touched:
    """Reverses a contract's booking: it stays in ASPIRE but is no longer booked."""
    with _transaction(target) as conn:
        plan = _contract(conn, contract_oid)
        if not plan.booked:
            raise ValueError(f"contract {plan.oid} is not booked")
        _rows(conn, "update_contract_unbooked", contract_oid=plan.oid)
        return {"Contract": [plan.oid]}


def terminate_contract(target: Target, contract_oid: int | None = None, *, rng: random.Random | None = None) -> Touched:
    """Terminates a commenced contract early (buyout or default); it stays booked, its values close."""
    rng = _rng(rng)
    with _transaction(target) as conn:
        plan = _contract(conn, contract_oid or _pick(conn, "billable_contract", rng))
        _commenced(plan, "terminated")
        today = _today(conn)
        _rows(conn, "update_contract_terminated", contract_oid=plan.oid, termination_date=today)
        _rows(conn, "update_contract_values_closed", contract_oid=plan.oid, as_of=today)
        return {"Contract": [plan.oid], "ContractValues": [plan.oid]}


def restructure(
    target: Target, contract_oid: int | None = None, *, term_months: int | None = None, rng: random.Random | None = None
) -> Touched:
    """Re-amortizes what is left of a contract over a new term (default: a year longer or shorter).

    Lines already due stay; later lines are rewritten, added (longer term) or deleted (shorter term).
    """
    rng = _rng(rng)
    with _transaction(target) as conn:
        plan = _contract(conn, contract_oid or _pick(conn, "amortizing_contract", rng))
        _commenced(plan, "restructured")
        lines = _rows(conn, "select_amortization_lines", contract_oid=plan.oid)
        if not lines:
            raise ValueError(f"contract {plan.oid} has no amortization schedule to restructure")
        today = _today(conn)
        kept = [line for line in lines if line["duedate"] <= today]
        months = plan.months_per_period
        shortest = (len(kept) + 1) * months
        if term_months is None:
            terms = [t for t in (plan.term + 12, plan.term - 12) if shortest <= t <= 120]
            if not terms:
                raise NoCandidate(f"contract {plan.oid} cannot be restructured by a year either way")
            term_months = rng.choice(terms)
        if term_months % months or term_months < shortest or term_months == plan.term:
            raise ValueError(
                f"term_months must be a multiple of {months}, at least {shortest} and not the "
                f"current {plan.term}, got {term_months}"
            )
        periods = term_months // months - len(kept)
        balance = cents(kept[-1]["endbalance"]) if kept else plan.cost
        first_due = add_months(kept[-1]["duedate"], months) if kept else lines[0]["duedate"]
        advance = plan.advance and not kept
        payment = level_payment(balance, plan.residual, plan.rate, plan.per_year, periods, advance)
        new_lines = amortize(
            balance,
            plan.residual,
            plan.rate,
            plan.per_year,
            payment,
            due_dates(first_due, months, periods),
            first_line_no=len(kept) + 1,
            first_interest_free=advance,
        )
        changed = []
        with conn.cursor() as cur:
            for row in pf.amortization_rows(plan, new_lines):
                cur.execute(
                    statement("simulate/upsert_amortization_line.sql"),
                    dict(zip(COLUMNS["AmortizationLine"], row, strict=True)),
                )
                if cur.rowcount:
                    changed.append(row[1])
        deleted = [
            row["LineNo"]
            for row in _rows(
                conn, "delete_amortization_lines_after", contract_oid=plan.oid, last_line_no=new_lines[-1][0]
            )
        ]
        _rows(
            conn,
            "update_contract_term",
            contract_oid=plan.oid,
            term_months=term_months,
            maturity_date=add_months(plan.commencement, term_months),
            payment_amount=money(payment),
        )
        _rows(
            conn,
            "update_contract_values_schedule",
            contract_oid=plan.oid,
            as_of=today,
            remaining_payments=periods,
            next_due_date=new_lines[0][1],
            next_due_amount=money(new_lines[0][2]),
        )
        return {
            "Contract": [plan.oid],
            "AmortizationLine": [(plan.oid, no) for no in sorted(changed + deleted)],
            "ContractValues": [plan.oid],
        }


def new_scenario(target: Target, contract_oid: int) -> Touched:
    """Defines a new contract scenario (a product variant) and re-papers one contract on it: the new scenario is
    used by that contract only."""
    with _transaction(target) as conn:
        plan = _contract(conn, contract_oid)
        oid = _SequenceIds(conn)("ContractScenario")
        scenario = (
            oid,
            f"{plan.scenario.name} (variant {oid})",
            plan.scenario.product_type,
            plan.scenario.purchase_option,
        )
        _insert(conn, "ContractScenario", [scenario])
        _rows(conn, "update_contract_scenario", contract_oid=plan.oid, scenario_oid=oid)
        return {"ContractScenario": [oid], "Contract": [plan.oid]}


def add_role(target: Target, contract_oid: int, account_oid: int, role_type: str) -> Touched:
    """Gives an account a role on a contract (e.g. a new guarantor)."""
    if role_type not in ROLE_TYPES:
        raise ValueError(f"role_type must be one of {', '.join(ROLE_TYPES)}, got {role_type!r}")
    with _transaction(target) as conn:
        _contract(conn, contract_oid)
        if account_kind(conn, account_oid) is None:
            raise ValueError(f"account {account_oid} does not exist in ASPIRE")
        role = (_SequenceIds(conn)("ContractRole"), contract_oid, account_oid, role_type)
        return {"ContractRole": _insert(conn, "ContractRole", [role])}


def remove_role(target: Target, contract_role_oid: int | None = None, *, rng: random.Random | None = None) -> Touched:
    """Removes a guarantor, co-lessee or vendor from a contract (the customer's own role stays)."""
    rng = _rng(rng)
    with _transaction(target) as conn:
        contract_role_oid = contract_role_oid or _pick(conn, "secondary_role", rng)
        role = _row(conn, "select_contract_role", contract_role_oid=contract_role_oid)
        if role is None:
            raise ValueError(f"contract role {contract_role_oid} does not exist in ASPIRE")
        if role["roletype"] == "Customer":
            raise ValueError(
                f"contract role {contract_role_oid} is the contract's Customer role, which cannot be removed"
            )
        _rows(conn, "delete_contract_role", contract_role_oid=contract_role_oid)
        return {"ContractRole": [contract_role_oid]}


# --- accounts, contacts, lines of credit -------------------------------------------------------------------------


def _contact_details(rng: random.Random, name: str) -> tuple[str, str]:
    """A new (email, phone) pair, as when a customer updates how to reach them."""
    return f"{name}{rng.randrange(1000)}@example.org", f"(312) 555-{rng.randrange(10000):04d}"


def edit_account(target: Target, account_oid: int | None = None, *, rng: random.Random | None = None) -> Touched:
    """Changes an account's email, phone and street address."""
    rng = _rng(rng)
    with _transaction(target) as conn:
        account_oid = account_oid or _pick(conn, "account", rng)
        email, phone = _contact_details(rng, "billing")
        address = f"{rng.randint(100, 9999)} {rng.choice(vocab.STREETS)}"
        if not _rows(
            conn,
            "update_account_contact_info",
            account_oid=account_oid,
            email=email,
            phone=phone,
            address_line1=address,
        ):
            raise ValueError(f"account {account_oid} does not exist in ASPIRE")
        return {"Account": [account_oid]}


def edit_contact(target: Target, contact_oid: int | None = None, *, rng: random.Random | None = None) -> Touched:
    """Changes a contact's email and phone."""
    rng = _rng(rng)
    with _transaction(target) as conn:
        contact_oid = contact_oid or _pick(conn, "contact", rng)
        email, phone = _contact_details(rng, "contact")
        if not _rows(conn, "update_contact", contact_oid=contact_oid, email=email, phone=phone):
            raise ValueError(f"contact {contact_oid} does not exist in ASPIRE")
        return {"AccountContact": [contact_oid]}


def _delete_one(
    target: Target, table: str, what: str, pick: str, statement: str, oid: int | None, rng: random.Random | None
) -> Touched:
    """Deletes one row of `table` (its oid given, or picked by `pick`) with `statement` (one `oid` parameter)."""
    rng = _rng(rng)
    with _transaction(target) as conn:
        oid = oid or _pick(conn, pick, rng)
        if not _rows(conn, statement, oid=oid):
            raise ValueError(f"{what} {oid} does not exist in ASPIRE")
        return {table: [oid]}


def delete_contact(target: Target, contact_oid: int | None = None, *, rng: random.Random | None = None) -> Touched:
    """Deletes a contact (picked among non-primary ones when not given)."""
    return _delete_one(target, "AccountContact", "contact", "secondary_contact", "delete_contact", contact_oid, rng)


def delete_receipt(target: Target, receipt_oid: int | None = None, *, rng: random.Random | None = None) -> Touched:
    """Deletes a cash receipt outright, as an operator removes one keyed in by mistake (a hard delete: no row is left
    to carry a new row version). Not among EVENTS: the random mix keeps its history."""
    return _delete_one(target, "CashReceipt", "receipt", "posted_receipt", "delete_cash_receipt", receipt_oid, rng)


def delete_invoice_detail(
    target: Target, invoice_detail_oid: int | None = None, *, rng: random.Random | None = None
) -> Touched:
    """Deletes one invoice detail line (a hard delete). Not among EVENTS, like delete_receipt."""
    return _delete_one(
        target, "InvoiceDetail", "invoice detail", "invoice_detail", "delete_invoice_detail", invoice_detail_oid, rng
    )


def change_credit_usage(
    target: Target,
    line_of_credit_oid: int | None = None,
    *,
    delta: Money | None = None,
    rng: random.Random | None = None,
) -> Touched:
    """Draws on (positive `delta`, dollars) or pays down a line of credit, kept within 0 and the approved amount."""
    rng = _rng(rng)
    with _transaction(target) as conn:
        line_of_credit_oid = line_of_credit_oid or _pick(conn, "line_of_credit", rng)
        change = cents(delta) if delta is not None else rng.choice((-1, 1)) * rng.randint(5_000, 100_000) * 100
        if not _rows(conn, "update_line_of_credit_usage", line_of_credit_oid=line_of_credit_oid, delta=money(change)):
            raise ValueError(f"line of credit {line_of_credit_oid} does not exist in ASPIRE")
        return {"LineOfCredit": [line_of_credit_oid]}


def new_customer(target: Target, *, rng: random.Random | None = None) -> int:
    """A new customer account with contacts and a booked, commenced contract already billed and paid for a while.

    Returns its AccountOid: the kind of account a portal user is created for.
    """
    rng = _rng(rng)
    with _transaction(target) as conn:
        ids = _SequenceIds(conn)
        today = _today(conn)
        account, place = pf.customer_account(ids("Account"), rng)
        account = (*account[:-1], "Active")
        _insert(conn, "Account", [account])
        _insert(conn, "AccountContact", list(pf.contact_rows(account, rng, ids)))
        plan = pf.plan_contract(ids("Contract"), account[0], place, rng, today, status="Commenced")
        _insert(conn, "Contract", [pf.contract_row(plan)])
        vendors = [row["accountoid"] for row in _rows(conn, "select_vendor_accounts")]
        _insert(conn, "ContractRole", list(pf.role_rows(plan, rng, ids, [account[0]], vendors)))
        rows = pf.contract_rows(plan, rng.randrange(2**31), ids, today, equipment=True)
        for table in pf.CONTRACT_TABLES:
            _insert(conn, table, rows[table])
        return account[0]


# --- the mix -------------------------------------------------------------------------------------------------


def _random_role(target: Target, *, rng: random.Random) -> Touched:
    """A guarantor or co-lessee (another customer) added to a billed contract."""
    with _transaction(target) as conn:
        contract_oid = _pick(conn, "billable_contract", rng)
        account_oid = _pick(conn, "customer_account", rng)
        return add_role(conn, contract_oid, account_oid, rng.choice(("Guarantor", "CoLessee")))


def _new_customer_event(target: Target, *, rng: random.Random) -> Touched:
    return {"Account": [new_customer(target, rng=rng)]}


EVENTS: dict[str, tuple[Callable[..., Touched], int]] = {
    "post_receipt": (post_receipt, 30),
    "new_invoice": (new_invoice, 22),
    "edit_account": (edit_account, 6),
    "edit_contact": (edit_contact, 6),
    "change_credit_usage": (change_credit_usage, 5),
    "add_role": (_random_role, 4),
    "book_contract": (book_contract, 4),
    "reverse_receipt": (reverse_receipt, 3),
    "restructure": (restructure, 3),
    "remove_role": (remove_role, 3),
    "reverse_invoice": (reverse_invoice, 2),
    "terminate_contract": (terminate_contract, 2),
    "delete_contact": (delete_contact, 2),
    "new_customer": (_new_customer_event, 1),
}
"""Event name -> (function, relative frequency): mostly billing and cash, now and then a contract change."""


def simulate(aspire_dsn: str, events: int, seed: int = 0) -> dict[str, int]:
    """Runs `events` random events, each its own committed transaction; returns how many of each ran.

    An event with nothing to act on (no unbooked contract left, say) is counted under "skipped".
    """
    if not isinstance(events, int) or isinstance(events, bool) or events <= 0:
        raise ValueError(f"events must be a positive integer, got {events!r}")
    rng = random.Random(seed)
    names = list(EVENTS)
    weights = [EVENTS[name][1] for name in names]
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    with psycopg.connect(aspire_dsn, autocommit=True) as conn:
        for name in rng.choices(names, weights, k=events):
            try:
                EVENTS[name][0](conn, rng=rng)
            except NoCandidate:
                name = "skipped"
            counts[name] += 1
    log.info(
        "simulated %d events in %.1f s: %s",
        events,
        time.perf_counter() - started,
        ", ".join(f"{name} {count}" for name, count in counts.most_common()),
    )
    return dict(counts)
