"""Money and amortization arithmetic, in integer cents so every schedule balances to the cent.

A rate is held as an integer number of millionths (0.072500 -> 72_500), the scale of `Contract.Rate`
(numeric(9, 6)); interest is then exact integer arithmetic rounded half up, the same result as
PostgreSQL's `round(BeginBalance * Rate / periods_per_year, 2)` on the stored values.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

MONTHS_PER_PERIOD = {"Monthly": 1, "Quarterly": 3, "SemiAnnual": 6, "Annual": 12}

# (LineNo, DueDate, Payment, Principal, Interest, BeginBalance, EndBalance), money in cents.
Line = tuple[int, date, int, int, int, int, int]


def money(cents: int) -> str:
    """Cents as the decimal text COPY and numeric parameters take ("1234.50"), exact, no float."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def cents(value: Decimal | int | str) -> int:
    """A numeric value read back from the database, as cents."""
    return int((Decimal(value) * 100).to_integral_value())


def rate_text(rate_micro: int) -> str:
    """A rate in millionths as the text of a numeric(9, 6)."""
    return f"{rate_micro // 1_000_000}.{rate_micro % 1_000_000:06d}"


def rate_micro(value: Decimal | str) -> int:
    """A numeric(9, 6) rate read back from the database, in millionths."""
    return int((Decimal(value) * 1_000_000).to_integral_value())


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def level_payment(balance: int, residual: int, rate: int, per_year: int, periods: int, advance: bool) -> int:
    """The level payment, in cents, that amortizes `balance` down to `residual` over `periods`.

    In arrears the payments fall at the end of each period and the residual at the last one; in advance
    they fall at the start of each period and the residual is settled with the last payment.
    """
    r = rate / 1_000_000 / per_year
    if r == 0:
        return round((balance - residual) / periods)
    v_n = (1 + r) ** -periods
    if advance:
        annuity = (1 - v_n) * (1 + r) / r
        residual_now = residual * (1 + r) ** -(periods - 1)
    else:
        annuity = (1 - v_n) / r
        residual_now = residual * v_n
    return round((balance - residual_now) / annuity)


def amortize(
    balance: int,
    residual: int,
    rate: int,
    per_year: int,
    payment: int,
    due_dates: list[date],
    *,
    first_line_no: int = 1,
    first_interest_free: bool = False,
) -> list[Line]:
    """A level-payment schedule: interest on the balance, the rest of the payment to principal.

    The last line absorbs the rounding, so the principals sum exactly to `balance - residual` and the last
    EndBalance is `residual`. `first_interest_free` is an advance schedule's first line: paid on the day
    the contract starts, before any interest has accrued.
    """
    unit = per_year * 1_000_000
    last = len(due_dates) - 1
    lines = []
    for i, due in enumerate(due_dates):
        interest = 0 if first_interest_free and i == 0 else (2 * balance * rate + unit) // (2 * unit)
        if i == last:
            principal = balance - residual
            paid = principal + interest
        else:
            principal = payment - interest
            paid = payment
        lines.append((first_line_no + i, due, paid, principal, interest, balance, balance - principal))
        balance -= principal
    return lines


def due_dates(first_due: date, months_per_period: int, periods: int) -> list[date]:
    """The due dates of `periods` payments, `months_per_period` apart from `first_due`."""
    return [add_months(first_due, i * months_per_period) for i in range(periods)]
