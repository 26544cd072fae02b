"""The business model of the emulated portfolio: how accounts, contracts and their billing look.

Everything here is a pure function of a random stream, so the seed (millions of rows, streamed into COPY)
and the simulator (one contract at a time, inserted in a transaction) build rows the same way. Each account
and contract draws from its own stream, keyed by the seed, its id and a purpose, so its rows do not depend
on the order or the batches they are built in. Rows are tuples in `catalog.COLUMNS` order, money in the
decimal text of `finance.money` (exact, and what COPY and numeric parameters take).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from . import vocabulary as vocab
from .finance import MONTHS_PER_PERIOD, Line, add_months, amortize, due_dates, level_payment, money, rate_text

REFERENCE_DATE = date(2026, 11, 1)
"""The seed's "today": every generated date is relative to it, so a seed is the same data on any day."""

NextId = Callable[[str], int]
"""Allocates the next surrogate key of a table (by table name)."""

Row = tuple
"""A row of a dbo table, in `catalog.COLUMNS` order."""
Place = tuple[str, str, str, str]
"""(city, state, ZIP prefix, area code) of a customer: where its equipment mostly is and what tax applies."""


class Purpose:
    """Separate random streams per purpose, so adding draws to one table does not reshuffle another."""

    ACCOUNT, CONTACT, CONTRACT, ROLE, EQUIPMENT, BILLING, LINE_OF_CREDIT, PORTFOLIO = range(8)


def stream(seed: int, key: int, purpose: int) -> random.Random:
    """The random stream of one entity (`key`) for one purpose under a seed."""
    return random.Random((seed * 1_000_003 + key) * 16 + purpose)


@dataclass(frozen=True)
class Scenario:
    """A contract scenario (ASPIRE's product definition) and its share of new business."""

    oid: int
    name: str
    product_type: str
    purchase_option: str
    share: float

    @property
    def is_operating_lease(self) -> bool:
        """Operating leases carry no amortization schedule in ASPIRE."""
        return self.product_type == "OperatingLease"

    @property
    def is_loan(self) -> bool:
        return self.product_type == "Loan"


SCENARIOS = (
    Scenario(1, "$1 Buyout Capital Lease", "CapitalLease", "OneDollar", 0.40),
    Scenario(2, "Equipment Finance Agreement", "Loan", "None", 0.15),
    Scenario(3, "Commercial Installment Loan", "Loan", "None", 0.10),
    Scenario(4, "FMV Operating Lease", "OperatingLease", "FMV", 0.20),
    Scenario(5, "10% Purchase Option Lease", "CapitalLease", "FixedPurchaseOption", 0.08),
    Scenario(6, "TRAC Lease", "CapitalLease", "TRAC", 0.07),
)
SCENARIO_BY_OID = {s.oid: s for s in SCENARIOS}

TERMS = ((24, 36, 48, 60, 72, 84), (3, 24, 13, 38, 12, 10))
FREQUENCIES = (("Monthly", "Quarterly", "SemiAnnual", "Annual"), (92, 4.5, 1.5, 2))
STATUSES = (("Commenced", "FullyPaidOff", "Terminated", "UnCommenced", "Cancelled"), (64, 24, 6.5, 4, 1.5))
METHODS = (("ACH", "Check", "Lockbox", "WebEFT", "Wire", "Card"), (54, 19, 16, 7, 2, 1))
RETURNABLE = frozenset({"ACH", "WebEFT", "Card"})
INVOICE_LEAD = timedelta(days=20)


def scenario_rows() -> Iterator[Row]:
    yield from ((s.oid, s.name, s.product_type, s.purchase_option) for s in SCENARIOS)


# --- accounts and contacts -------------------------------------------------------------------------------


def account_number(oid: int, vendor: bool = False) -> str:
    """The number people quote for an account; derived from the key so it is unique without a lookup."""
    return f"{'V' if vendor else 'C'}{oid}"


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())[:24]


def _phone(rng: random.Random, place: Place) -> str:
    return f"({place[3]}) 555-{rng.randrange(10000):04d}"


def _address(rng: random.Random, place: Place) -> tuple[str, str | None, str, str, str]:
    suite = f"Suite {rng.randint(100, 999)}" if rng.random() < 0.2 else None
    return (
        f"{rng.randint(100, 9999)} {rng.choice(vocab.STREETS)}",
        suite,
        place[0],
        place[1],
        f"{place[2]}{rng.randrange(100):02d}",
    )


def customer_account(oid: int, rng: random.Random) -> tuple[Row, Place]:
    """A customer (borrower or lessee): mostly businesses, some sole proprietors; and where it is."""
    place = rng.choice(vocab.PLACES)
    if rng.random() < 0.88:
        base = f"{rng.choice(vocab.BUSINESS_WORDS)} {rng.choice(vocab.BUSINESS_TRADES)}"
        name, is_business = f"{base} {rng.choice(vocab.BUSINESS_SUFFIXES)}", 1
        dba = base if rng.random() < 0.25 else None
        email = f"ap@{_slug(base)}.example.com"
    else:
        first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
        name, is_business = f"{first} {last}", 0
        dba = f"{last} {rng.choice(vocab.BUSINESS_TRADES)}" if rng.random() < 0.4 else None
        email = f"{_slug(first)}.{_slug(last)}{rng.randrange(100)}@example.net"
    status = "Active" if rng.random() < 0.97 else "Inactive"
    row = (oid, account_number(oid), name, dba, is_business, email, _phone(rng, place), *_address(rng, place), status)
    return row, place


def vendor_account(oid: int, rng: random.Random) -> Row:
    """An equipment dealer or manufacturer that sold the equipment: its own account, always a business."""
    place = rng.choice(vocab.PLACES)
    base = f"{rng.choice(vocab.BUSINESS_WORDS)} {rng.choice(vocab.VENDOR_NAMES)}"
    return (
        oid,
        account_number(oid, vendor=True),
        f"{base} {rng.choice(vocab.BUSINESS_SUFFIXES)}",
        None,
        1,
        f"sales@{_slug(base)}.example.com",
        _phone(rng, place),
        *_address(rng, place),
        "Active",
    )


def contact_rows(account: Row, rng: random.Random, next_id: NextId, *, vendor: bool = False) -> Iterator[Row]:
    """An account's people: one to three for a customer (the first is primary), one for a vendor."""
    count = 1 if vendor else rng.choices((1, 2, 3), (60, 30, 10))[0]
    domain = account[5].split("@", 1)[1] if account[5] else "example.com"
    area = account[6][1:4] if account[6] else "312"
    for i in range(count):
        first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
        yield (
            next_id("AccountContact"),
            account[0],
            first,
            last,
            f"{_slug(first)}.{_slug(last)}@{domain}",
            f"({area}) 555-{rng.randrange(10000):04d}",
            1 if i == 0 else 0,
        )


# --- contracts ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ContractPlan:
    """One contract's terms and life so far: everything its rows in every table are derived from."""

    oid: int
    customer: int
    place: Place
    scenario: Scenario
    line_of_credit: int | None
    status: str
    booked: bool
    booked_date: date | None
    commencement: date | None
    maturity: date | None
    termination: date | None
    term: int
    frequency: str
    timing: str
    payment: int
    cost: int
    residual: int
    rate: int

    @property
    def months_per_period(self) -> int:
        return MONTHS_PER_PERIOD[self.frequency]

    @property
    def per_year(self) -> int:
        return 12 // self.months_per_period

    @property
    def periods(self) -> int:
        return self.term // self.months_per_period

    @property
    def advance(self) -> bool:
        return self.timing == "Advance"

    @property
    def has_schedule(self) -> bool:
        """Booked contracts that are not operating leases have amortization lines."""
        return self.booked and not self.scenario.is_operating_lease


def contract_id(oid: int) -> str:
    """The contract number people quote, derived from the key so it is unique without a lookup."""
    return f"{oid:08d}-001"


def _residual(scenario: Scenario, cost: int, rng: random.Random) -> int:
    option = scenario.purchase_option
    if option == "OneDollar":
        return 100
    if option == "FMV":
        return round(cost * rng.uniform(0.10, 0.22) / 100) * 100
    if option == "FixedPurchaseOption":
        return cost // 10
    if option == "TRAC":
        return round(cost * rng.uniform(0.15, 0.30) / 100) * 100
    return 0


def _life(status: str, term: int, rng: random.Random, as_of: date) -> tuple:
    """(booked, booked date, commencement, maturity, termination) for a contract in `status` on `as_of`."""
    term_days = (as_of - add_months(as_of, -term)).days
    termination = None
    if status == "Commenced":
        commencement = as_of - timedelta(days=rng.randint(1, term_days - 20))
    elif status == "FullyPaidOff":
        commencement = add_months(as_of - timedelta(days=rng.randint(1, 4 * 365)), -term)
    elif status == "Terminated":
        commencement = as_of - timedelta(days=rng.randint(120, term_days + 3 * 365))
        latest = min(term_days - 30, (as_of - commencement).days - 1)
        termination = commencement + timedelta(days=rng.randint(90, latest))
    elif status == "UnCommenced" and rng.random() < 1 / 3:
        booked_date = as_of - timedelta(days=rng.randint(0, 20))
        commencement = as_of + timedelta(days=rng.randint(1, 30))
        return True, booked_date, commencement, add_months(commencement, term), None
    else:
        return False, None, None, None, None
    booked_date = commencement - timedelta(days=rng.randint(0, 7))
    return True, booked_date, commencement, add_months(commencement, term), termination


def plan_contract(
    oid: int,
    customer: int,
    place: Place,
    rng: random.Random,
    as_of: date,
    *,
    line_of_credit: int | None = None,
    status: str | None = None,
) -> ContractPlan:
    """Draws a contract's terms: product mix, term, frequency, cost, rate, residual and its life so far."""
    scenario = rng.choices(SCENARIOS, [s.share for s in SCENARIOS])[0]
    status = status or rng.choices(*STATUSES)[0]
    term = rng.choices(*TERMS)[0]
    frequency = rng.choices(*FREQUENCIES)[0]
    if scenario.is_loan:
        timing = "Arrears" if rng.random() < 0.8 else "Advance"
        rate = rng.randrange(200, 420) * 250
    else:
        timing = "Advance" if rng.random() < 0.85 else "Arrears"
        rate = rng.randrange(240, 520) * 250
    cost = min(max(round(rng.lognormvariate(11.35, 0.9)), 5_000), 2_500_000) * 100
    residual = _residual(scenario, cost, rng)
    per_year = 12 // MONTHS_PER_PERIOD[frequency]
    payment = level_payment(cost, residual, rate, per_year, term * per_year // 12, timing == "Advance")
    booked, booked_date, commencement, maturity, termination = _life(status, term, rng, as_of)
    return ContractPlan(
        oid,
        customer,
        place,
        scenario,
        line_of_credit,
        status,
        booked,
        booked_date,
        commencement,
        maturity,
        termination,
        term,
        frequency,
        timing,
        payment,
        cost,
        residual,
        rate,
    )


def contract_row(plan: ContractPlan) -> Row:
    return (
        plan.oid,
        contract_id(plan.oid),
        plan.customer,
        plan.scenario.oid,
        plan.line_of_credit,
        plan.status,
        int(plan.booked),
        plan.booked_date,
        plan.commencement,
        plan.maturity,
        plan.term,
        plan.frequency,
        plan.timing,
        money(plan.payment),
        money(plan.cost),
        money(plan.residual),
        rate_text(plan.rate),
        plan.termination,
    )


def schedule(plan: ContractPlan) -> list[Line]:
    """The contract's level-payment schedule (also computed for operating leases: their rent and balance)."""
    months = plan.months_per_period
    first_due = plan.commencement if plan.advance else add_months(plan.commencement, months)
    return amortize(
        plan.cost,
        plan.residual,
        plan.rate,
        plan.per_year,
        plan.payment,
        due_dates(first_due, months, plan.periods),
        first_interest_free=plan.advance,
    )


def amortization_rows(plan: ContractPlan, lines: list[Line]) -> Iterator[Row]:
    oid = plan.oid
    for no, due, payment, principal, interest, begin, end in lines:
        yield oid, no, due, money(payment), money(principal), money(interest), money(begin), money(end)


def role_rows(
    plan: ContractPlan, rng: random.Random, next_id: NextId, customers: list[int], vendors: list[int]
) -> Iterator[Row]:
    """The Customer role on every contract; some guarantors and co-lessees (other customers); most a vendor."""
    yield next_id("ContractRole"), plan.oid, plan.customer, "Customer"
    for role, share in (("Guarantor", 0.20), ("CoLessee", 0.05)):
        if rng.random() < share and len(customers) > 1:
            other = rng.choice(customers)
            if other == plan.customer:
                other = customers[(customers.index(other) + 1) % len(customers)]
            yield next_id("ContractRole"), plan.oid, other, role
    if vendors and rng.random() < 0.70:
        yield next_id("ContractRole"), plan.oid, rng.choice(vendors), "Vendor"


# --- equipment ---------------------------------------------------------------------------------------------

_VEHICLE_KINDS = tuple(kind for kind in vocab.EQUIPMENT if kind[2])
_EQUIPMENT_STATUS = {"Commenced": "Active", "UnCommenced": "Pending", "Cancelled": "Cancelled"}


def _equipment_count(rng: random.Random) -> int:
    """1 item for 60% of contracts, 2-5 for 30%, 6-50 (mostly fleets of under a dozen) for 10%."""
    u = rng.random()
    if u < 0.60:
        return 1
    if u < 0.90:
        return rng.choices((2, 3, 4, 5), (45, 30, 15, 10))[0]
    return min(6 + int(rng.expovariate(1 / 4)), 50)


def _equipment_status(plan: ContractPlan) -> str:
    if plan.status in _EQUIPMENT_STATUS:
        return _EQUIPMENT_STATUS[plan.status]
    if plan.status == "FullyPaidOff":
        return "Returned" if plan.scenario.is_operating_lease else "Sold"
    return "Returned"


def _vin(rng: random.Random, maker: str, year: int, oid: int) -> str:
    middle = "".join(rng.choices(vocab.VIN_CHARS, k=5))
    return f"{maker}{middle}{rng.randrange(10)}{vocab.VIN_YEAR_CODES.get(year, 'A')}A{oid % 1_000_000:06d}"


def equipment_rows(plan: ContractPlan, rng: random.Random, next_id: NextId, as_of: date) -> Iterator[Row]:
    """The contract's assets: one kind of equipment per contract (a fleet), its cost split exactly over them."""
    count = _equipment_count(rng)
    _, noun, vehicle, max_quantity, makes = rng.choice(
        _VEHICLE_KINDS if plan.scenario.purchase_option == "TRAC" else vocab.EQUIPMENT
    )
    weights = [0.5 + rng.random() for _ in range(count)]
    total = sum(weights)
    remaining = plan.cost
    start_year = (plan.commencement or as_of).year
    status = _equipment_status(plan)
    for i, weight in enumerate(weights):
        basis = remaining if i == count - 1 else int(plan.cost * weight / total)
        remaining -= basis
        make, code, models = rng.choice(makes)
        model = rng.choice(models)
        year = start_year - rng.choice((0, 0, 0, 1, 2, 3))
        oid = next_id("Equipment")
        serial = f"{code[:3]}{rng.choice(vocab.VIN_CHARS)}{rng.choice(vocab.VIN_CHARS)}{oid:09d}"
        vin = _vin(rng, code, year, oid) if vehicle else None
        quantity = rng.randint(1, max_quantity) if max_quantity > 1 and rng.random() < 0.4 else 1
        city, state = (plan.place[0], plan.place[1]) if rng.random() < 0.8 else rng.choice(vocab.PLACES)[:2]
        yield (
            oid,
            plan.oid,
            f"{year} {make} {model} {noun}",
            make,
            model,
            year,
            serial,
            vin,
            quantity,
            money(basis),
            city,
            state,
            status,
        )


# --- billing: invoices, their details, and the cash received ---------------------------------------------


@dataclass(slots=True)
class Bill:
    """One invoice with its detail lines and the receipts paid (or tried) against it."""

    invoice: Row
    details: list[Row]
    receipts: list[Row]
    past_due: int
    due: date


@dataclass(slots=True)
class _Billing:
    """The fixed habits of one contract's billing: taxes, fees, how the customer pays, whether it is late."""

    tax_bp: int
    property_tax: int
    insurance: int
    doc_fee: int
    method: str
    delinquent_tail: int


def _habits(plan: ContractPlan, rng: random.Random, past_count: int) -> _Billing:
    tax_bp = 0 if plan.place[1] in vocab.UNTAXED_STATES or rng.random() < 0.3 else rng.randint(500, 925)
    property_tax = plan.cost * rng.randint(100, 200) // 10_000 if rng.random() < 0.25 else 0
    insurance = rng.randint(25, 150) * 100 if rng.random() < 0.08 else 0
    doc_fee = rng.choice((15_000, 25_000, 35_000, 45_000)) if rng.random() < 0.3 else 0
    method = rng.choices(*METHODS)[0]
    tail = 0
    if plan.status == "Commenced" and rng.random() < 0.22:
        tail = 1 + int(rng.expovariate(1 / 4))
    elif plan.status == "Terminated" and rng.random() < 0.35:
        tail = rng.randint(2, 8)
    return _Billing(tax_bp, property_tax, insurance, doc_fee, method, min(tail, past_count))


def invoice_number(oid: int) -> str:
    """The invoice number printed on the bill, derived from the key so it is unique without a lookup."""
    return f"INV{oid:09d}"


def reference_number(rng: random.Random, method: str) -> str:
    """A receipt's reference as its channel prints it: ACH trace, check number, portal or wire confirmation."""
    if method == "ACH":
        return f"ACH{rng.randrange(10**14, 10**15)}"
    if method in ("Check", "Lockbox"):
        return f"CHK{rng.randrange(1000, 99999)}"
    if method == "WebEFT":
        return f"WEB{rng.getrandbits(40):010X}"
    if method == "Wire":
        return f"FED{rng.randrange(10**11, 10**12)}"
    return f"CRD{rng.randrange(100000, 999999)}"


def _settled(method: str, received: date, as_of: date, rng: random.Random) -> date:
    lag = rng.choice((1, 1, 2)) if method in RETURNABLE else rng.choice((0, 1))
    return min(received + timedelta(days=lag), as_of)


def _detail_amounts(plan: ContractPlan, habits: _Billing, rent: int, index: int, late_fee: int) -> list:
    """(TransactionCode, cents) of one invoice: rent, then at most two of tax and fees (three lines at most)."""
    details = [("Rent", rent)]
    if habits.tax_bp:
        details.append(("SalesTax", (rent * habits.tax_bp + 5_000) // 10_000))
    if late_fee:
        details.append(("LateFee", late_fee))
    if habits.property_tax and index % plan.per_year == plan.per_year - 1:
        details.append(("PropertyTax", habits.property_tax))
    if habits.insurance:
        details.append(("Insurance", habits.insurance))
    if index == 0 and habits.doc_fee:
        details.append(("Misc", habits.doc_fee))
    return details[:3]


def _apply(amounts: list, paid: int) -> list[int]:
    """Detail balances after `paid` is applied to the details in order."""
    balances = []
    for _, amount in amounts:
        applied = min(amount, paid)
        paid -= applied
        balances.append(amount - applied)
    return balances


class _Biller:
    """Builds the bills of one contract in due-date order; carries late fees from one bill to the next."""

    def __init__(self, plan: ContractPlan, rng: random.Random, next_id: NextId, as_of: date, habits: _Billing):
        self.plan, self.rng, self.next_id, self.as_of, self.habits = plan, rng, next_id, as_of, habits
        self.late_fee = 0

    def _method(self) -> str:
        rng = self.rng
        return self.habits.method if rng.random() < 0.88 else rng.choices(*METHODS)[0]

    def _receipt(self, amount: int, received: date, status: str, method: str | None = None) -> Row:
        method = method or self._method()
        posted = None if status == "Pending" else _settled(method, received, self.as_of, self.rng)
        plan = self.plan
        return (
            self.next_id("CashReceipt"),
            plan.customer,
            plan.oid,
            received,
            posted,
            money(amount),
            method,
            status,
            reference_number(self.rng, method),
        )

    def bill(self, line: Line, index: int, status: str) -> Bill:
        """An invoice for schedule line `line` that ends up in `status` (Paid, Open, PartiallyPaid, Reversed)."""
        plan, rng, as_of = self.plan, self.rng, self.as_of
        due = line[1]
        invoice_date = max(due - INVOICE_LEAD, plan.booked_date)
        amounts = _detail_amounts(plan, self.habits, line[2], index, 0 if status == "Reversed" else self.late_fee)
        if status != "Reversed":
            self.late_fee = 0
        amount = sum(a for _, a in amounts)
        receipts: list[Row] = []
        paid = 0
        if status == "Paid":
            paid = amount
            receipts = self._paid_receipts(amount, due)
        elif status == "PartiallyPaid":
            paid = amount * rng.randint(20, 80) // 100
            received = min(due + timedelta(days=rng.randint(0, 20)), as_of)
            receipts = [self._receipt(paid, received, "Posted")]
        elif status == "Open" and due >= as_of and rng.random() < 0.12:
            receipts = [self._receipt(amount, as_of - timedelta(days=rng.randint(0, 2)), "Pending")]
        elif status == "Open" and rng.random() < 0.10:
            method = rng.choice(("ACH", "WebEFT"))
            receipts = [self._receipt(amount, min(due, as_of), "Returned", method)]
        balances = [0] * len(amounts) if status in ("Paid", "Reversed") else _apply(amounts, paid)
        balance = sum(balances)
        invoice_oid = self.next_id("Invoice")
        invoice = (
            invoice_oid,
            invoice_number(invoice_oid),
            plan.customer,
            plan.oid,
            invoice_date,
            due,
            money(amount),
            money(balance),
            status,
        )
        details = [
            (self.next_id("InvoiceDetail"), invoice_oid, plan.oid, code, money(a), money(b))
            for (code, a), b in zip(amounts, balances, strict=True)
        ]
        past_due = balance if due < as_of and status in ("Open", "PartiallyPaid") else 0
        return Bill(invoice, details, receipts, past_due, due)

    def _paid_receipts(self, amount: int, due: date) -> list[Row]:
        """Usually one receipt; some split in two; some bounced once (Returned/Reversed) and paid again."""
        rng, as_of = self.rng, self.as_of
        method = self._method()
        if rng.random() < 0.06:
            received = due + timedelta(days=rng.randint(11, 45))
            self.late_fee = max(2_500, amount // 20)
        elif method in RETURNABLE:
            received = due + timedelta(days=rng.randint(0, 2))
        else:
            received = due + timedelta(days=rng.randint(-5, 10))
        received = min(received, as_of)
        u = rng.random()
        if u < 0.05:
            first = amount * rng.randint(30, 70) // 100
            second = min(received + timedelta(days=rng.randint(3, 15)), as_of)
            return [
                self._receipt(first, received, "Posted", method),
                self._receipt(amount - first, second, "Posted", method),
            ]
        if u < 0.09:
            failed = "Returned" if method in RETURNABLE else "Reversed"
            again = min(received + timedelta(days=rng.randint(5, 15)), as_of)
            return [self._receipt(amount, received, failed, method), self._receipt(amount, again, "Posted")]
        return [self._receipt(amount, received, "Posted", method)]


def billed_lines(plan: ContractPlan, lines: list[Line], as_of: date) -> list[Line]:
    """The schedule lines invoiced by `as_of`: invoiced 20 days ahead, none after termination or maturity."""
    end = plan.termination or plan.maturity
    booked = plan.booked_date
    return [line for line in lines if line[1] <= end and max(line[1] - INVOICE_LEAD, booked) <= as_of]


def billing(plan: ContractPlan, lines: list[Line], rng: random.Random, next_id: NextId, as_of: date) -> Iterator[Bill]:
    """The invoices of a booked contract up to `as_of`, with how each was paid.

    Shapes: ~1% of invoices reversed (and re-billed), a delinquent tail of unpaid recent invoices on ~22% of
    live contracts (and on defaulted terminations), ~2.5% scattered disputed invoices, the rest paid;
    invoices not yet due are open, a few already paid or with a pending payment.
    """
    if not plan.booked or plan.status == "Cancelled":
        return
    billed = billed_lines(plan, lines, as_of)
    past = [line for line in billed if line[1] < as_of]
    habits = _habits(plan, rng, len(past))
    tail_start = len(past) - habits.delinquent_tail
    biller = _Biller(plan, rng, next_id, as_of, habits)
    paid_off = plan.status == "FullyPaidOff"
    for index, line in enumerate(billed):
        if rng.random() < 0.01:
            yield biller.bill(line, index, "Reversed")
        if line[1] >= as_of:
            status = "Paid" if rng.random() < 0.10 else "Open"
        elif index >= tail_start:
            status = "PartiallyPaid" if rng.random() < 0.35 else "Open"
        elif not paid_off and rng.random() < 0.025:
            status = "Open"
        else:
            status = "Paid"
        yield biller.bill(line, index, status)


# --- contract values -------------------------------------------------------------------------------------


def values_row(plan: ContractPlan, lines: list[Line], past_due: int, oldest_due: date | None, as_of: date) -> Row:
    """ContractValues of a booked contract as of `as_of`, consistent with its schedule and unpaid invoices."""
    days_past_due = (as_of - oldest_due).days if past_due and oldest_due else 0
    if plan.status in ("FullyPaidOff", "Terminated"):
        end = plan.termination or plan.maturity
        interest = sum(line[4] for line in lines if line[1] <= end)
        return (
            plan.oid,
            as_of,
            money(0),
            rate_text(plan.rate),
            money(plan.cost - plan.residual),
            money(interest),
            0,
            None,
            money(0),
            money(past_due),
            days_past_due,
            money(past_due),
        )
    done = sum(1 for line in lines if line[1] <= as_of)
    balance = lines[done - 1][6] if done else plan.cost
    principal = sum(line[3] for line in lines[:done])
    interest = sum(line[4] for line in lines[:done])
    following = lines[done] if done < len(lines) else None
    return (
        plan.oid,
        as_of,
        money(balance),
        rate_text(plan.rate),
        money(principal),
        money(interest),
        len(lines) - done,
        following[1] if following else None,
        money(following[2] if following else 0),
        money(past_due),
        days_past_due,
        money(balance + past_due),
    )


CONTRACT_TABLES = ("Equipment", "AmortizationLine", "Invoice", "InvoiceDetail", "CashReceipt", "ContractValues")
"""The tables whose rows belong to one contract, in foreign-key load order."""


def contract_rows(
    plan: ContractPlan, seed: int, next_id: NextId, as_of: date, *, equipment: bool, bill: bool = True
) -> dict[str, list[Row]]:
    """All rows that hang off one contract, by table: its equipment, schedule, billing and values.

    Built in one go so the schedule and the bills are computed once and the values agree with them.
    `bill=False` leaves out the invoices and receipts (a contract booked today has none yet).
    """
    rows: dict[str, list[Row]] = {table: [] for table in CONTRACT_TABLES}
    if equipment:
        rows["Equipment"].extend(equipment_rows(plan, stream(seed, plan.oid, Purpose.EQUIPMENT), next_id, as_of))
    if not plan.booked:
        return rows
    lines = schedule(plan)
    if plan.has_schedule:
        rows["AmortizationLine"].extend(amortization_rows(plan, lines))
    past_due, oldest = 0, None
    bills = billing(plan, lines, stream(seed, plan.oid, Purpose.BILLING), next_id, as_of) if bill else ()
    for one in bills:
        rows["Invoice"].append(one.invoice)
        rows["InvoiceDetail"].extend(one.details)
        rows["CashReceipt"].extend(one.receipts)
        if one.past_due:
            past_due += one.past_due
            oldest = min(oldest or one.due, one.due)
    rows["ContractValues"].append(values_row(plan, lines, past_due, oldest, as_of))
    return rows


def balance_on(plan: ContractPlan, lines: list[Line], as_of: date) -> int:
    """The principal still outstanding on a live booked contract (0 once it is closed or not booked)."""
    if not plan.booked or plan.status not in ("Commenced", "UnCommenced"):
        return 0
    done = [line for line in lines if line[1] <= as_of]
    return done[-1][6] if done else plan.cost


# --- lines of credit -------------------------------------------------------------------------------------


def line_of_credit_row(
    oid: int, account: int, used: int, first_use: date | None, rng: random.Random, as_of: date
) -> Row:
    """A master line the customer draws contracts from; approved comfortably above what is in use."""
    approved = max(used * rng.randint(120, 250) // 100, 25_000_000)
    approved = -(-approved // 2_500_000) * 2_500_000
    effective = (first_use or as_of) - timedelta(days=rng.randint(10, 400))
    expiration = add_months(effective, rng.choice((36, 48, 60)))
    status = "Active" if expiration > as_of else "Expired"
    return (
        oid,
        account,
        f"LOC{oid}",
        money(approved),
        money(used),
        money(approved - used),
        1 if rng.random() < 0.7 else 0,
        effective,
        expiration,
        status,
    )
