"""ASPIRE's clock: the read bound every load reads below, and the time ASPIRE's data is as of.

The read bound is MIN_ACTIVE_ROWVERSION(), not @@DBTS: a row version below it belongs to a transaction that has
ended, so a row written by a transaction still open is never skipped (docs/adr/0001-read-bound.md). Each sample
of the bound is kept with ASPIRE's clock (aspire_sync.aspire_clock), which is how "data as of" is known.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import psycopg

from aspire_portal import sqlfiles
from aspire_portal.model import Dialect

log = logging.getLogger(__name__)


def sample_read_bound(source: Any, dialect: str) -> tuple[int, datetime, int]:
    """ASPIRE's read bound (MIN_ACTIVE_ROWVERSION()), its clock (UTC) and its newest row version (@@DBTS), read
    without writing anything."""
    with source.cursor() as cursor:
        cursor.execute(sqlfiles.render("extract/select_min_active_rowversion.sql", dialect=dialect))
        bound, sampled_at, dbts = cursor.fetchone()
    if sampled_at.tzinfo is None:
        sampled_at = sampled_at.replace(tzinfo=UTC)
    return int(bound), sampled_at, int(dbts)


def read_bound(source: Any, target: psycopg.Connection, dialect: Dialect) -> int:
    """ASPIRE's read bound, with a sample of its clock kept for "data as of"."""
    bound, sampled_at, dbts = sample_read_bound(source, dialect)
    target.execute(sqlfiles.read("clock/insert_aspire_clock.sql"), {"sampled_at": sampled_at, "dbts": dbts})
    if dbts >= bound:
        log.info(
            "ASPIRE read bound %d: a transaction open on ASPIRE since row version %d holds it back (newest "
            'row version %d); rows it writes wait for the next run and "data as of" stays before it',
            bound,
            bound,
            dbts,
        )
    return bound


def data_as_of(target: psycopg.Connection, bound: int) -> datetime | None:
    """The time every ASPIRE transaction committed before is below `bound` (see aspire_sync.aspire_clock): never
    later than the truth, so a freshness stamp is never early."""
    return target.execute(sqlfiles.read("clock/select_data_as_of.sql"), {"read_bound": bound}).fetchone()[0]
