"""Creates the emulated ASPIRE database and seeds it with a realistic, deterministic portfolio.

The seed streams rows straight into COPY: accounts and contract plans (small) are held in memory, and each
contract's dependent rows (equipment, schedule, invoices, receipts, values) are built once, in chunks of a
few hundred contracts, so memory stays flat at any size. For speed the foreign keys are set aside during
the load and re-created after it (which validates every row at once), and the row-version trigger is
attached afterwards: a BEFORE ROW trigger makes COPY insert row by row, so the seed stamps each row with
exactly what the trigger would write (this transaction's id and ASPIRE local time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import psycopg

from . import portfolio as pf
from .catalog import ID_RANGES
from .portfolio import REFERENCE_DATE, ContractPlan, Purpose, Row, stream
from .sqlfiles import copy_into, statement

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Size:
    """A portfolio size: how many customers and contracts; every other table follows from the shapes."""

    customers: int
    contracts: int

    @property
    def vendors(self) -> int:
        return max(10, self.customers // 25)


ACCOUNT_TABLES = ("ContractScenario", "Account", "AccountContact", "LineOfCredit", "Contract", "ContractRole")
"""The tables seeded first, streamed whole; the contract-level tables follow in chunks of contracts."""
CHUNK_CONTRACTS = 500

SIZES = {
    "small": Size(customers=600, contracts=1_200),
    "medium": Size(customers=6_000, contracts=12_000),
    "large": Size(customers=50_000, contracts=100_000),
}


class SeedIds:
    """Sequential surrogate keys from each table's seed range; a fresh instance replays the same ids."""

    def __init__(self) -> None:
        self._next = {table: r.first for table, r in ID_RANGES.items()}

    def __call__(self, table: str) -> int:
        oid = self._next[table]
        self._next[table] = oid + 1
        return oid


class Portfolio:
    """The seeded book of business: accounts and contract plans in memory, child rows generated on demand."""

    def __init__(self, size: Size, seed: int, as_of: date = REFERENCE_DATE) -> None:
        self.seed, self.as_of = seed, as_of
        ids = SeedIds()
        self.customers = [
            pf.customer_account(oid, stream(seed, oid, Purpose.ACCOUNT))
            for oid in (ids("Account") for _ in range(size.customers))
        ]
        self.vendors = [
            pf.vendor_account(oid, stream(seed, oid, Purpose.ACCOUNT))
            for oid in (ids("Account") for _ in range(size.vendors))
        ]
        self.customer_oids = [row[0] for row, _ in self.customers]
        self.vendor_oids = [row[0] for row in self.vendors]
        self.plans = self._plan_contracts(size, ids)

    def _plan_contracts(self, size: Size, ids: SeedIds) -> list[ContractPlan]:
        """Every customer holds a contract; the rest go to customers by a long-tailed (Zipf-like) weight.

        Lines of credit (5% of customers) go to customers drawn like contracts, so mostly to larger ones.
        """
        rng = stream(self.seed, 0, Purpose.PORTFOLIO)
        places = dict((row[0], place) for row, place in self.customers)
        ranked = self.customer_oids[:]
        rng.shuffle(ranked)
        weights = [1 / (rank + 1) ** 0.8 for rank in range(len(ranked))]
        owners = self.customer_oids + rng.choices(ranked, weights, k=max(0, size.contracts - size.customers))
        rng.shuffle(owners)
        with_credit = list(dict.fromkeys(owners))[: round(size.customers * 0.05)]
        self.credit_lines = {customer: ids("LineOfCredit") for customer in sorted(with_credit)}
        plans = []
        for customer in owners[: size.contracts]:
            oid = ids("Contract")
            crng = stream(self.seed, oid, Purpose.CONTRACT)
            credit = self.credit_lines.get(customer)
            credit = credit if credit and crng.random() < 0.85 else None
            plans.append(pf.plan_contract(oid, customer, places[customer], crng, self.as_of, line_of_credit=credit))
        return plans

    def rows(self, table: str) -> Iterator[Row]:
        """The rows of one of the account-level tables (`ACCOUNT_TABLES`), generated as they are consumed."""
        return getattr(self, f"_{table}")()

    def _ContractScenario(self) -> Iterator[Row]:
        return pf.scenario_rows()

    def _Account(self) -> Iterator[Row]:
        yield from (row for row, _ in self.customers)
        yield from self.vendors

    def _AccountContact(self) -> Iterator[Row]:
        ids = SeedIds()
        for row, _ in self.customers:
            yield from pf.contact_rows(row, stream(self.seed, row[0], Purpose.CONTACT), ids)
        for row in self.vendors:
            yield from pf.contact_rows(row, stream(self.seed, row[0], Purpose.CONTACT), ids, vendor=True)

    def _LineOfCredit(self) -> Iterator[Row]:
        used: dict[int, int] = dict.fromkeys(self.credit_lines.values(), 0)
        first_use: dict[int, date] = {}
        for plan in self.plans:
            if plan.line_of_credit and plan.booked:
                used[plan.line_of_credit] += pf.balance_on(plan, pf.schedule(plan), self.as_of)
                first_use[plan.line_of_credit] = min(plan.commencement, first_use.get(plan.line_of_credit, date.max))
        for customer, oid in self.credit_lines.items():
            rng = stream(self.seed, oid, Purpose.LINE_OF_CREDIT)
            yield pf.line_of_credit_row(oid, customer, used[oid], first_use.get(oid), rng, self.as_of)

    def _Contract(self) -> Iterator[Row]:
        return map(pf.contract_row, self.plans)

    def _ContractRole(self) -> Iterator[Row]:
        ids = SeedIds()
        for plan in self.plans:
            rng = stream(self.seed, plan.oid, Purpose.ROLE)
            yield from pf.role_rows(plan, rng, ids, self.customer_oids, self.vendor_oids)

    def contract_chunks(self, size: int = CHUNK_CONTRACTS) -> Iterator[dict[str, list[Row]]]:
        """The contract-level tables' rows, `size` contracts at a time, so memory stays flat at any size.

        Booked contracts have their equipment; of unbooked ones only half, of cancelled ones a third.
        """
        ids = SeedIds()
        for start in range(0, len(self.plans), size):
            chunk: dict[str, list[Row]] = {table: [] for table in pf.CONTRACT_TABLES}
            for plan in self.plans[start : start + size]:
                share = 1.0 if plan.booked else 0.3 if plan.status == "Cancelled" else 0.5
                equipment = stream(self.seed, plan.oid, Purpose.PORTFOLIO).random() < share
                for table, rows in pf.contract_rows(plan, self.seed, ids, self.as_of, equipment=equipment).items():
                    chunk[table].extend(rows)
            yield chunk


def copy_rows(conn: psycopg.Connection, table: str, rows: Iterable[Row], stamp: tuple) -> int:
    """Streams `rows` into dbo.`table` with COPY, each stamped with (LastModifiedAt, RowVer); returns the count."""
    count = 0
    with conn.cursor().copy(copy_into(table, ("LastModifiedAt", "RowVer"))) as copy:
        for row in rows:
            copy.write_row(row + stamp)
            count += 1
    return count


def create_schema(conn: psycopg.Connection) -> None:
    """Drops and re-creates schema dbo: tables, functions and id sequences, without triggers or indexes."""
    conn.execute(statement("generate/drop_aspire_schema.sql"))
    conn.execute(statement("create_aspire_schema.sql"))
    conn.execute(statement("generate/create_aspire_sequences.sql"))


def create(aspire_dsn: str, size: str = "small", seed: int = 42) -> dict[str, int]:
    """Re-creates the emulated ASPIRE in `aspire_dsn` and seeds it; returns rows loaded per table.

    One transaction: a failed seed leaves the previous database as it was.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    started = time.perf_counter()
    counts: dict[str, int] = {}
    with psycopg.connect(aspire_dsn) as conn:
        create_schema(conn)
        rowver, modified = conn.execute(statement("generate/select_row_stamp.sql")).fetchone()
        book = Portfolio(SIZES[size], seed)
        stamp = (modified, rowver)
        conn.execute(statement("generate/drop_foreign_keys.sql"))
        for table in ACCOUNT_TABLES:
            counts[table] = copy_rows(conn, table, book.rows(table), stamp)
        log.info("seeded accounts and contracts in %.1f s", time.perf_counter() - started)
        for chunk in book.contract_chunks():
            for table, rows in chunk.items():
                counts[table] = counts.get(table, 0) + copy_rows(conn, table, rows, stamp)
        log.info("seeded %s", ", ".join(f"{table} {count}" for table, count in counts.items()))
        keys_started = time.perf_counter()
        conn.execute(statement("generate/restore_foreign_keys.sql"))
        log.info("validated foreign keys in %.1f s", time.perf_counter() - keys_started)
        conn.execute(statement("create_aspire_triggers.sql"))
        conn.execute(statement("generate/reset_aspire_sequences.sql"))
        indexes_started = time.perf_counter()
        conn.execute(statement("create_aspire_indexes.sql"))
        log.info("indexed and analyzed in %.1f s", time.perf_counter() - indexes_started)
    log.info(
        "created a %s ASPIRE (seed %d): %d rows in %.1f s",
        size,
        seed,
        sum(counts.values()),
        time.perf_counter() - started,
    )
    return counts
