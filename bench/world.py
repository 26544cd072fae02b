"""The benchmark's databases and the changes it makes in ASPIRE.

One emulated ASPIRE (`<prefix>_src`) and one portal template (`<prefix>_portal`: migrated, 25% of the customers
enrolled); every method loads into its own copy of the template (`<prefix>_portal_<method>`), so all of them
read the same rows and none sees another's writes. Changes are plain UPDATEs, one transaction per change set,
so the row-version trigger moves RowVer exactly as ASPIRE's users would.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from aspire_emulator import change_tracking, generate
from aspire_emulator import portal as portal_app
from aspire_emulator.dsn import conninfo_to_uri
from aspire_portal import catalogue, migrations, planning, scope, sqlfiles, staging
from aspire_portal.catalogue import Entity

log = logging.getLogger(__name__)

ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PREFIX = os.environ.get("BENCH_DB_PREFIX", "aspire_portal_bench")
SOURCE_DB = f"{PREFIX}_src"
TEMPLATE_DB = f"{PREFIX}_portal"
SEED = 42
ENROLLED_SHARE = 0.25
DLT_VIEWS = "bench"
"""The schema of the source views that hand dlt the same rows as the extracts (one view per entity)."""

# One plain UPDATE per ASPIRE table: its key column and what changes (a cent, a flag, or a touch that only moves
# RowVer and LastModifiedAt). Nothing that changes the customer scope (roles, booking, status).
TOUCHES: dict[str, tuple[str, str]] = {
    "Account": ("AccountOid", "AddressLine2 = case when AddressLine2 is null then 'Suite 100' end"),
    "AccountContact": ("ContactOid", "IsPrimary = 1 - IsPrimary"),
    "ContractScenario": ("ScenarioOid", "Name = Name"),
    "LineOfCredit": ("LineOfCreditOid", "UsedAmount = UsedAmount + 0.01, AvailableAmount = AvailableAmount - 0.01"),
    "Contract": ("ContractOid", "PaymentAmount = PaymentAmount + 0.01"),
    "ContractRole": ("ContractRoleOid", "RoleType = RoleType"),
    "Invoice": ("InvoiceOid", "Amount = Amount + 0.01"),
    "InvoiceDetail": ("InvoiceDetailOid", "Amount = Amount + 0.01"),
    "CashReceipt": ("ReceiptOid", "Amount = Amount + 0.01"),
    "ContractValues": ("ContractOid", "PastDueAmount = PastDueAmount + 0.01"),
    "AmortizationLine": ('ContractOid + "LineNo"', "Interest = Interest + 0.01"),
    "Equipment": ("EquipmentOid", "CurrentBasisValue = CurrentBasisValue + 0.01"),
}
# How the 15-minute run's changed rows spread over its entities (invoices, details, receipts mostly).
INCREMENTAL_SPREAD = {
    "invoice": 0.3,
    "invoice_detail": 0.3,
    "cash_receipt": 0.3,
    "account": 0.04,
    "account_contact": 0.04,
    "contract_role": 0.01,
    "contract": 0.01,
}


def database_dsn(name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(ADMIN_DSN)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def uri(dsn: str, scheme: str = "postgresql") -> str:
    """The URI of a libpq DSN, for Airflow connections (AIRFLOW_CONN_*), SQLAlchemy and dlt."""
    return conninfo_to_uri(dsn, scheme)


def recreate_database(name: str, template: str | None = None) -> str:
    """Drops and creates database `name` (a copy of `template` when given); returns its DSN."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        create = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            create += sql.SQL(" template {}").format(sql.Identifier(template))
        conn.execute(create)
    return database_dsn(name)


@dataclass(frozen=True)
class World:
    size: str
    source_dsn: str
    accounts: tuple[int, ...]
    scope: planning.Scope  # as resolved once the customers were enrolled (the benchmark's changes keep it)

    def portal(self, method: str) -> str:
        """A fresh portal for `method`: the template's copy, migrated and enrolled, with nothing loaded."""
        return recreate_database(f"{PREFIX}_portal_{method}", template=TEMPLATE_DB)


def prepare(size: str, reuse_source: bool = False) -> World:
    """The emulator at `size` (re-created unless `reuse_source` and it is there already at that size) and the
    portal template with 25% of its customers enrolled."""
    source_dsn = database_dsn(SOURCE_DB)
    if reuse_source and _source_size(source_dsn) == size:
        log.info("reusing the %s emulator in %s", size, SOURCE_DB)
    else:
        recreate_database(SOURCE_DB)
        started = time.perf_counter()
        generate.create(source_dsn, size=size, seed=SEED)
        with psycopg.connect(source_dsn) as conn:
            conn.execute(f"create schema if not exists {DLT_VIEWS}")
            conn.execute(
                sql.SQL("comment on schema {} is {}").format(
                    sql.Identifier(DLT_VIEWS), sql.Literal(json.dumps({"size": size}))
                )
            )
        log.info("created the %s emulator in %s in %.0f s", size, SOURCE_DB, time.perf_counter() - started)
        change_tracking.enable(source_dsn)  # what incremental_change_tracking reads; the others ignore it
    vacuum(source_dsn)  # also a reused one: the last run's change left dead rows
    template_dsn = recreate_database(TEMPLATE_DB)
    portal_app.create_portal_schema(template_dsn)
    with psycopg.connect(template_dsn, autocommit=True) as conn:
        migrations.migrate(conn)
    count = round(generate.SIZES[size].customers * ENROLLED_SHARE)
    accounts = tuple(sorted(portal_app.enroll(template_dsn, source_dsn, count=count, seed=SEED)))
    resolved = resolve_scope(source_dsn, template_dsn)
    _create_dlt_views(source_dsn, resolved)
    return World(size, source_dsn, accounts, resolved)


def resolve_scope(source_dsn: str, portal_dsn: str) -> planning.Scope:
    """Every enrolled customer's scope, resolved as a full load over everyone resolves it (not persisted)."""
    with psycopg.connect(source_dsn) as source, psycopg.connect(portal_dsn, autocommit=True) as target:
        return scope.resolve(source, target, "postgres", persist=False)


def _source_size(source_dsn: str) -> str | None:
    try:
        with psycopg.connect(source_dsn) as conn:
            row = conn.execute("select obj_description(to_regnamespace(%s), 'pg_namespace')", (DLT_VIEWS,)).fetchone()
    except psycopg.OperationalError:
        return None
    return json.loads(row[0])["size"] if row and row[0] else None


def inlined_extract(source: psycopg.Connection, entity: Entity, resolved: planning.Scope) -> str:
    """The statement the engine's full load of `entity` over every enrolled customer runs (the accounts and
    in-scope contracts of `resolved` as its id lists), its parameters inlined as literals, for tools that take SQL
    text without parameters (psql, GenericTransfer, a view): every method reads with the same SQL."""
    plan = planning.plan_everyone(entity, resolved, planning.Held())
    short_lists, parameters = sqlfiles.id_lists(accounts=plan.accounts, scoped_contracts=plan.contracts)
    extract = staging.render_extract(entity, "full", "postgres", short_lists=short_lists)
    return psycopg.ClientCursor(source).mogrify(extract, parameters).strip()


def _create_dlt_views(source_dsn: str, resolved: planning.Scope) -> None:
    """dlt's sql_database source reads tables or views: one view per entity holds the same extract."""
    with psycopg.connect(source_dsn) as conn:
        for entity in catalogue.ENTITIES:
            conn.execute(f"drop view if exists {DLT_VIEWS}.{entity.name}")
            conn.execute(f"create view {DLT_VIEWS}.{entity.name} as\n{inlined_extract(conn, entity, resolved)}")


def vacuum(source_dsn: str) -> None:
    """VACUUM ANALYZE of the emulator, so that every method and every run reads it alike, as a database in use that
    has been vacuumed: without it PostgreSQL reads the heap for visibility on every index-only scan (the scope
    fingerprint's count and newest row version), and the first scan after a change prunes and hints the pages it
    touched (every 100th row changed touches most pages of a table), which falls on whichever load reads first. SQL
    Server does neither."""
    with psycopg.connect(source_dsn, autocommit=True) as conn:
        conn.execute("vacuum analyze")


def touch_one_percent(source_dsn: str) -> dict[str, int]:
    """Changes 1% of the rows of every ASPIRE table (every 100th key) in one transaction, then vacuums; rows per
    table."""
    touched = {}
    with psycopg.connect(source_dsn) as conn:
        for table, (key, assignment) in TOUCHES.items():
            cursor = conn.execute(f"update dbo.{table} set {assignment} where ({key}) % 100 = 0")
            touched[table] = cursor.rowcount
        _wait_for_read_bound(conn)
    vacuum(source_dsn)
    return touched


def touch_in_scope(source_dsn: str, resolved: planning.Scope, total: int) -> dict[str, int]:
    """Changes `total` rows of the enrolled customers (the 15-minute entities, mostly invoices, details and
    receipts), picked in a fixed pseudo-random order, in one transaction, then vacuums; rows per entity."""
    touched = {}
    with psycopg.connect(source_dsn) as conn:
        for name, share in INCREMENTAL_SPREAD.items():
            entity = catalogue.entity(name)
            table = entity.source_table.removeprefix("dbo.")
            key, assignment = TOUCHES[table]
            pick = (
                f"select e.{entity.key[0]} from ({inlined_extract(conn, entity, resolved)}) as e "
                f"order by md5(e.{entity.key[0]}::text) limit {round(total * share)}"
            )
            keys = [row[0] for row in conn.execute(pick)]
            cursor = conn.execute(f"update dbo.{table} set {assignment} where {key} = any(%s)", (keys,))
            touched[name] = cursor.rowcount
        _wait_for_read_bound(conn)
    vacuum(source_dsn)
    return touched


def unenroll_share(portal_dsn: str, accounts: tuple[int, ...], share: float) -> int:
    """Un-enrols `share` of the enrolled customers (a fixed pseudo-random pick) as the portal would; how many."""
    ranked = sorted(accounts, key=lambda oid: hashlib.md5(str(oid).encode()).hexdigest())
    picked = ranked[: max(1, round(len(accounts) * share))]
    for oid in picked:
        portal_app.unenroll(portal_dsn, oid)
    return len(picked)


def _wait_for_read_bound(conn: psycopg.Connection, timeout: float = 300) -> None:
    """Commits the change and waits until ASPIRE's read bound (the oldest open transaction on the server) has
    passed it, so the next incremental run reads it: another session's open transaction holds the bound back."""
    (txid,) = conn.execute("select pg_current_xact_id()::text::bigint").fetchone()
    conn.commit()
    deadline = time.monotonic() + timeout
    while conn.execute("select dbo.min_active_rowversion() <= %s", (txid,)).fetchone()[0]:
        conn.rollback()
        if time.monotonic() > deadline:
            log.warning(
                "an open transaction on the server holds the read bound below the change (%d) after %.0f s; "
                "the incremental run will not see all of it",
                txid,
                timeout,
            )
            return
        time.sleep(0.5)
    conn.rollback()
