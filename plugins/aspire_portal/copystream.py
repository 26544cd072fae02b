"""The COPY stream: ASPIRE's rows from a server-side cursor into COPY to a portal table, batch by batch, so memory
stays flat whatever the size.

Rows come in one of two forms. Typed rows are Python objects, as pymssql hands them from ASPIRE (production), and go
in by binary COPY when every column allows it, so the portal parses nothing, unless the rows are mostly amounts,
which text COPY dumps faster. Text rows are the emulator's values passed through as PostgreSQL printed them, and go
in by text COPY untouched; the emulator can also hand typed rows (`row_format="typed"`), which is how the production
path is tested and measured here.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Dumper, Loader
from psycopg.types.string import TextLoader

from aspire_portal import sqlfiles
from aspire_portal.model import RowFormat

log = logging.getLogger(__name__)

# The errors COPY raises on a value no PostgreSQL column can hold (a NUL character in a string, a string that is not
# valid Unicode, an integer beyond bigint): the extract then runs again with every row screened (`unfit`).
COPY_ERRORS = (psycopg.DataError, UnicodeError, OverflowError)


@dataclass(frozen=True)
class Diverted:
    """A row the extract held back from COPY because no PostgreSQL column can hold one of its values."""

    values: dict[str, Any]
    problem: str


@dataclass(frozen=True)
class Into:
    """Where a stream goes: the table, the target's column names and the same names quoted for SQL."""

    table: str
    columns: list[str]
    quoted: list[str]


def stream_rows(
    source: Any,
    target: psycopg.Connection,
    extract: str,
    parameters: dict[str, Any],
    into: Into,
    *,
    batch_size: int,
    row_format: RowFormat = "text",
    binary_copy: bool = True,
    diverted: list[Diverted] | None = None,
) -> int:
    """Streams the extract's rows into COPY to `into`; how many. With `diverted` (after a COPY failed on a value),
    each row is screened first and those no column could hold are held back there."""
    rows_read = 0
    typed = rows_are_typed(source, row_format)
    with server_side_cursor(source, batch_size, row_format) as cursor:
        cursor.execute(extract, parameters)
        names = [d[0] for d in cursor.description]
        check_extract_columns(names, into.columns)
        first = cursor.fetchmany(batch_size)
        with target.cursor() as tcur:
            types = binary_copy_types(tcur, into.table, names, first) if typed and binary_copy else None
            log.debug("COPY into %s: %s", into.table, "binary" if types is not None else "text")
            copy_sql = sqlfiles.render(
                "load/copy_rows.sql",
                table=into.table,
                binary=types is not None,
                columns=[into.quoted[into.columns.index(name)] for name in names],
            )
            prefetch, first = _Prefetch(cursor, batch_size, first), None  # the batch is held only while written
            with prefetch as batches, tcur.copy(copy_sql) as copy:
                if types is not None:
                    copy.set_types(types)
                for batch in batches:
                    if diverted is None:
                        for row in batch:
                            copy.write_row(row)
                    else:
                        _write_screened(copy, names, batch, diverted)
                    rows_read += len(batch)
    return rows_read


class _Prefetch:
    """The cursor's batches, `first` then each next one fetched by a thread while the caller writes the one before:
    the source computes and sends a batch while this process dumps the last into COPY, where one after the other
    each waited for the other (measured at medium: 10-20% off the large entities' streaming). At most two batches
    are held besides the one being written. Only the thread uses the source connection until it has stopped, which
    leaving the block waits for, however the block ends (a COPY error stops the fetching after the batch in hand).
    """

    def __init__(self, cursor: Any, batch_size: int, first: list) -> None:
        self._cursor, self._batch_size, self._first = cursor, batch_size, first
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch, name="aspire-extract-prefetch", daemon=True)

    def __enter__(self) -> Iterator[list]:
        if self._first:  # an empty first batch is the end: nothing to fetch
            self._thread.start()
        return self._batches()

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        interrupted: BaseException | None = None
        while self._thread.is_alive():  # it may be blocked on a full queue, or in a fetch that must end first
            try:
                with contextlib.suppress(queue.Empty):
                    dropped = self._queue.get_nowait()
                    if isinstance(dropped, BaseException):  # the block ends on another error: keep this one seen
                        log.warning("The extract also failed while its rows were being written: %s", dropped)
                self._thread.join(timeout=0.05)
            except BaseException as error:  # a second signal while waiting: the source is still the thread's
                interrupted = error
        if interrupted is not None:
            raise interrupted

    def _batches(self) -> Iterator[list]:
        batch, self._first = self._first, []
        while batch:
            yield batch
            batch = self._queue.get()
            if isinstance(batch, BaseException):
                raise batch

    def _fetch(self) -> None:
        try:
            while not self._stop.is_set():
                batch = self._cursor.fetchmany(self._batch_size)
                self._put(batch)
                if not batch:
                    return
        except BaseException as error:  # handed to the writing thread, which raises it
            self._put(error)

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue


def unfit(names: Sequence[str], row: Sequence[Any]) -> str | None:
    """What makes a source row impossible to COPY into any PostgreSQL table, or None: a NUL character in a string
    (SQL Server's nvarchar may hold one), a string that is not valid Unicode (a lone surrogate), an integer beyond
    bigint."""
    for name, value in zip(names, row, strict=True):
        if isinstance(value, str):
            if "\x00" in value:
                return f"{name} holds a NUL character, which the portal's text cannot hold"
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return f"{name} is not valid Unicode (a lone surrogate)"
        elif isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            return f"{name} is beyond the range of a bigint"
    return None


def _write_screened(copy: Any, names: list[str], batch: list, diverted: list[Diverted]) -> None:
    """Writes the rows of `batch` that COPY can take; holds back, in `diverted`, those it cannot."""
    for row in batch:
        problem = unfit(names, row)
        if problem is None:
            try:
                copy.write_row(row)
                continue
            except COPY_ERRORS as error:  # a value psycopg refuses before it is sent
                problem = f"a value COPY cannot take: {str(error).splitlines()[0]}"
        diverted.append(Diverted(dict(zip(names, row, strict=True)), problem))


def rows_are_typed(source: Any, row_format: RowFormat) -> bool:
    """Whether the source hands Python objects (pymssql always; the emulator when asked for typed rows)."""
    return not isinstance(source, psycopg.Connection) or row_format == "typed"


def binary_copy_types(
    cursor: psycopg.Cursor, table: str, names: Sequence[str], sample: Sequence[Sequence[Any]]
) -> list[int] | None:
    """The type of each of `names` in `table`, for a binary COPY of typed rows (set_types); None for a text COPY.

    Binary only when every column's type is one of BINARY_COPY_TAKES and the first value of each column in `sample`
    (the first batch) is of a Python type its dumper takes: a source column of another type (a float for a numeric
    column, a UUID for a varchar) goes in as text, which the portal converts as before. Binary only, too, where
    dumping a row costs this process clearly less than as text (`text_is_cheaper`). Binary COPY wraps an integer
    too large for an int2 or int4 column, so those columns take dumpers that refuse it.
    """
    types = {
        name: (oid, type_name)
        for name, oid, type_name in cursor.execute(sqlfiles.read("load/select_copy_types.sql"), {"table": table})
    }
    chosen = []
    for position, name in enumerate(names):
        oid, type_name = types[name]
        takes = BINARY_COPY_TAKES.get(type_name)
        first = next((row[position] for row in sample if row[position] is not None), None)
        if takes is None or not (first is None or isinstance(first, takes)):
            return None
        chosen.append(psycopg.postgres.types["text"].oid if type_name == "bpchar" else oid)  # same bytes as text
    if text_is_cheaper([types[name][1] for name in names]):
        return None
    for checked in (_Int2BinaryDumper, _Int4BinaryDumper):
        cursor.adapters.register_dumper(None, checked)
    return chosen


BINARY_COPY_TAKES: dict[str, type | tuple[type, ...]] = {
    "int2": int,
    "int4": int,
    "int8": int,
    "numeric": (Decimal, int),
    "bool": bool,
    "date": date,
    "timestamp": datetime,
    "varchar": str,
    "bpchar": str,
    "text": str,
}
"""The portal's column types binary COPY is used for, and the Python values (what pymssql hands) it takes."""


DUMP_MICROSECONDS: dict[str, tuple[float, float]] = {
    "int2": (0.065, 0.105),  # binary: the range-checking dumper below, in Python
    "int4": (0.065, 0.105),
    "int8": (0.065, 0.02),
    "numeric": (0.15, 0.55),  # binary goes through Decimal.as_tuple()
    "bool": (0.04, 0.02),
    "date": (0.25, 0.04),
    "timestamp": (0.6, 0.04),
    "varchar": (0.06, 0.02),
    "bpchar": (0.06, 0.02),
    "text": (0.06, 0.02),
}
"""What psycopg's C dumpers (3.3) take in this process per value of a column of each type, as (text, binary) COPY,
in microseconds: measured on the machine of docs/benchmarks.md ("The COPY format per table"). Only their
proportions matter."""

TEXT_WHEN_BELOW = 0.75
"""Text COPY is chosen when a row costs this process less than this fraction of its binary cost: the portal's
server then parses the text, which binary spares it, so a small difference is left to binary."""


def text_is_cheaper(type_names: Sequence[str]) -> bool:
    """Whether a row of columns of these types is dumped clearly faster as text COPY than as binary: where amounts
    dominate (an amortization line's five), binary's Decimal dumper costs more than text's date and timestamp
    formatting; where dates, keys and strings dominate, binary wins."""
    text, binary = (sum(DUMP_MICROSECONDS[name][way] for name in type_names) for way in (0, 1))
    return text < TEXT_WHEN_BELOW * binary


class _Int4BinaryDumper(Dumper):
    """int4 for binary COPY that refuses a value out of range (psycopg's own keeps its low 32 bits)."""

    format = psycopg.pq.Format.BINARY
    oid = psycopg.postgres.types["int4"].oid
    type_name, _pack = "integer", struct.Struct("!i").pack

    def dump(self, obj: int) -> bytes:
        try:
            return self._pack(obj)
        except struct.error:
            raise psycopg.DataError(f"{obj!r} does not fit a column of type {self.type_name}") from None


class _Int2BinaryDumper(_Int4BinaryDumper):
    """int2 for binary COPY that refuses a value out of range (psycopg's own keeps its low 16 bits)."""

    oid = psycopg.postgres.types["int2"].oid
    type_name, _pack = "smallint", struct.Struct("!h").pack


def server_side_cursor(source: Any, batch_size: int, row_format: RowFormat = "text") -> Any:
    """A cursor that streams: a named (server-side) cursor on PostgreSQL; pymssql's cursors stream already.

    On PostgreSQL with `row_format="text"` the values stay in their text form: COPY takes that text as it is, so
    parsing each value into a Python object only to format it back would be wasted work per row. With "typed" they
    become the Python objects pymssql hands from ASPIRE (a bit as bool, which the emulator keeps as smallint).
    """
    if isinstance(source, psycopg.Connection):
        cursor = source.cursor(name="aspire_extract")
        cursor.itersize = batch_size
        if row_format == "text":
            for type_name in _PASS_THROUGH_TYPES:
                cursor.adapters.register_loader(type_name, TextLoader)
        else:
            cursor.adapters.register_loader("int2", _BitLoader)
        return cursor
    return source.cursor()  # pymssql streams rows as they are fetched


_PASS_THROUGH_TYPES = (
    "int2",
    "int4",
    "int8",
    "numeric",
    "float4",
    "float8",
    "bool",
    "date",
    "time",
    "timestamp",
    "timestamptz",
)


class _BitLoader(Loader):
    """An emulated ASPIRE bit (smallint 0 or 1) as the bool pymssql makes of a bit."""

    def load(self, data: Buffer) -> bool:
        return bytes(data) != b"0"


def check_extract_columns(returned: Sequence[str], expected: Sequence[str]) -> None:
    """A clear error when an extract's columns and its target's differ."""
    missing = [c for c in expected if c not in returned]
    extra = [c for c in returned if c not in expected]
    if missing or extra:
        raise RuntimeError(
            f"the extract does not match its target table: missing columns {missing}, unknown columns {extra}"
        )
