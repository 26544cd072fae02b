"""Versioned migrations of the portal database (schemas aspire and aspire_sync).

Files ``include/sql/migrations/V<nnn>__<name>.sql`` are applied in order, each once, under an advisory lock,
so two DAG runs that start at once apply them exactly once. A migration edited after it was applied is an
error: fix forward with a new file.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

import psycopg

from aspire_portal import sqlfiles

log = logging.getLogger(__name__)

_FILE = re.compile(r"^V(\d{3})__([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def available() -> list[Migration]:
    """Every migration file, in version order."""
    found = []
    for path in sorted((sqlfiles.SQL_DIR / "migrations").glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name!r} is not named V<nnn>__<name>.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migration files share a version: {versions}")
    return found


def migrate(conn: psycopg.Connection) -> list[str]:
    """Applies the pending migrations in one transaction; returns the names applied (empty when up to date)."""
    applied_now = []
    with conn.transaction():
        conn.execute(sqlfiles.read("sync/lock_migrations.sql"))
        if not conn.execute(sqlfiles.read("sync/select_schema_migration_exists.sql")).fetchone()[0]:
            conn.execute(sqlfiles.read("sync/create_schema_migration.sql"))
        applied = {row[0]: row for row in conn.execute(sqlfiles.read("sync/select_applied_migrations.sql"))}
        for migration in available():
            if migration.version in applied:
                if applied[migration.version][2] != migration.checksum:
                    raise RuntimeError(
                        f"migration V{migration.version:03d} ({migration.name}) was changed after it was applied; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            conn.execute(migration.text)
            conn.execute(
                sqlfiles.read("sync/insert_schema_migration.sql"),
                {"version": migration.version, "name": migration.name, "checksum": migration.checksum},
            )
            applied_now.append(f"V{migration.version:03d}__{migration.name}")
    if applied_now:
        log.info("Applied portal migrations: %s", ", ".join(applied_now))
    else:
        log.info("Portal schema is up to date (%d migrations applied before)", len(available()))
    return applied_now
