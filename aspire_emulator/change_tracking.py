"""SQL Server Change Tracking on the emulator, for the tables a DBA would enable it on for the sync (the seven it
reads every 15 minutes): a log of the changed keys written by triggers, CHANGETABLE(CHANGES …) as
dbo.changetable_changes, CHANGE_TRACKING_CURRENT_VERSION() and CHANGE_TRACKING_MIN_VALID_VERSION(), and the cleanup
that a retention period runs (shortened at will here, so a reader can fall behind it)."""

from __future__ import annotations

import logging

import psycopg

from .sqlfiles import statement

log = logging.getLogger(__name__)

TRACKED = {
    "dbo.Account": "AccountOid",
    "dbo.AccountContact": "ContactOid",
    "dbo.Contract": "ContractOid",
    "dbo.ContractRole": "ContractRoleOid",
    "dbo.Invoice": "InvoiceOid",
    "dbo.InvoiceDetail": "InvoiceDetailOid",
    "dbo.CashReceipt": "ReceiptOid",
}


def enable(aspire_dsn: str) -> int:
    """Enables Change Tracking on the tracked tables (again: a no-op); the current version."""
    with psycopg.connect(aspire_dsn) as conn:
        version = conn.execute(
            statement("change_tracking/enable.sql"), {"tables": list(TRACKED), "keys": list(TRACKED.values())}
        ).fetchone()[0]
    log.info("Change Tracking enabled on %s at version %d", ", ".join(TRACKED), version)
    return version


def cleanup(aspire_dsn: str, older_than_seconds: float) -> int:
    """Runs the retention cleanup: changes logged more than `older_than_seconds` ago go, and each table's minimum
    valid version rises past them. How many changes went."""
    if (
        isinstance(older_than_seconds, bool)
        or not isinstance(older_than_seconds, int | float)
        or older_than_seconds < 0
    ):
        raise ValueError(f"older_than_seconds must be a number of seconds, 0 or more, got {older_than_seconds!r}")
    with psycopg.connect(aspire_dsn) as conn:
        removed = conn.execute(statement("change_tracking/cleanup.sql"), {"older_than": older_than_seconds}).fetchone()[
            0
        ]
    log.info("Change Tracking cleanup removed %d change(s) older than %s s", removed, older_than_seconds)
    return removed
