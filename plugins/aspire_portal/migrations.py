"""Versioned migrations of the portal database (schemas aspire and aspire_sync).

Files ``include/sql/migrations/V<nnn>__<name>.sql`` are applied in order, each once, in one transaction that
holds the ledger (``aspire_sync.schema_migration``) locked, so two DAG runs that start at once apply them exactly
once. The checks run before anything is applied, and each names the file:
- a migration edited after it was applied is an error (fix forward with a new file); the checksum is taken over
  normalized text (line endings, trailing whitespace, a byte-order mark), so a CRLF checkout is not an edit;
- an applied migration missing from the folder, or renamed, is an error;
- a new migration numbered below the highest applied one is an error (it would run out of order).
The migrations run as the sync's role (see include/sql/admin/setup_roles.sql) and touch only what it owns.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from aspire_portal import sqlfiles

log = logging.getLogger(__name__)

_FILE = re.compile(r"^V(\d{3})__([a-z0-9_]+)\.sql$")
LOCK_TIMEOUT = "2min"  # a DDL wait on a table an outside session holds ends in a clear error and a retry

# Migrations rewritten in place, with the checksums of the texts they replace: V001-V003 created schemas and
# granted on schema portal, which the sync's least-privilege role may not do. For a deployment that
# applied the earlier text the rewrite changes nothing, so its ledger takes the new checksum instead of refusing.
REWRITTEN = {
    1: frozenset({"22d05cdc25aaee296096094aebed6de42e153829233c23a56a5f6b6afa48575d"}),
    2: frozenset({"14266e794765498fad9183ab7f9f51f788374d236419c71c813363c0b8ac22b6"}),
    3: frozenset({"23710df57c1449d41294c9ee44d084ffa87dc7fe5aaf5fb686645ae2b5cc3502"}),
}


def normalized(text: str) -> str:
    """The text a checksum is taken over: LF line endings, no trailing whitespace, no byte-order mark, one final
    newline. A file already in that form (every file of this repository) is its own normal form."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).rstrip("\n") + "\n"


class MigrationError(RuntimeError):
    """The migration folder and the database's ledger disagree; nothing was applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def file(self) -> str:
        return f"V{self.version:03d}__{self.name}.sql"

    @property
    def checksum(self) -> str:
        return hashlib.sha256(normalized(self.text).encode()).hexdigest()


@dataclass(frozen=True)
class Applied:
    version: int
    name: str
    checksum: str

    @property
    def file(self) -> str:
        return f"V{self.version:03d}__{self.name}.sql"


def available(folder: Path | None = None) -> list[Migration]:
    """Every migration file of `folder` (default: include/sql/migrations), in version order."""
    folder = folder or sqlfiles.SQL_DIR / "migrations"
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name!r} is not named V<nnn>__<name>.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migration files share a version: {[m.file for m in found]}")
    return found


def pending(files: list[Migration], applied: list[Applied]) -> tuple[list[Migration], list[Applied]]:
    """The migrations to apply, and the applied ones whose checksum to update (rewritten in place, see
    REWRITTEN); MigrationError naming the file when the folder and the ledger disagree."""
    by_version = {m.version: m for m in files}
    highest = max((a.version for a in applied), default=0)
    rechecked = []
    for done in applied:
        migration = by_version.get(done.version)
        if migration is None:
            raise MigrationError(
                f"migration {done.file} was applied to this database but is missing from "
                "include/sql/migrations: restore it (applied migrations are never deleted)"
            )
        if migration.name != done.name:
            raise MigrationError(
                f"migration {done.file} was applied to this database but the folder has "
                f"{migration.file} instead: restore its name (applied migrations are never renamed)"
            )
        if migration.checksum != done.checksum:
            if done.checksum not in REWRITTEN.get(done.version, ()):
                raise MigrationError(
                    f"migration {migration.file} was changed after it was applied; add a new "
                    "migration instead of editing an applied one"
                )
            rechecked.append(done)
    done_versions = {a.version for a in applied}
    new = [m for m in files if m.version not in done_versions]
    early = [m.file for m in new if m.version < highest]
    if early:
        raise MigrationError(
            f"migration(s) {early} are numbered below V{highest:03d}, the highest applied migration, "
            f"so they would run out of order: renumber them above V{highest:03d}"
        )
    return new, rechecked


def migrate(conn: psycopg.Connection, folder: Path | None = None) -> list[str]:
    """Applies the pending migrations in one transaction; returns the files applied (empty when up to date)."""
    files = available(folder)
    applied_now = []
    with conn.transaction():
        conn.execute(sqlfiles.read("turns/set_lock_timeout.sql"), {"timeout": LOCK_TIMEOUT})
        _create_ledger(conn)
        conn.execute(sqlfiles.read("ledger/lock_migrations.sql"))
        applied = [Applied(*row) for row in conn.execute(sqlfiles.read("ledger/select_applied_migrations.sql"))]
        new, rechecked = pending(files, applied)
        for done in rechecked:
            migration = next(m for m in files if m.version == done.version)
            conn.execute(
                sqlfiles.read("ledger/update_migration_checksum.sql"),
                {"version": done.version, "checksum": migration.checksum},
            )
            log.info(
                "%s was applied in an earlier form that it replaces in place; recorded its new checksum", migration.file
            )
        for migration in new:
            conn.execute(migration.text)
            conn.execute(
                sqlfiles.read("ledger/insert_schema_migration.sql"),
                {"version": migration.version, "name": migration.name, "checksum": migration.checksum},
            )
            applied_now.append(migration.file.removesuffix(".sql"))
    if applied_now:
        log.info("Applied portal migrations: %s", ", ".join(applied_now))
    else:
        log.info("Portal schema is up to date (%d migrations applied before)", len(files))
    return applied_now


def _create_ledger(conn: psycopg.Connection) -> None:
    """Creates the ledger when missing. Two migrators starting at once on a new database race to create it: the
    loser's statement fails once the winner commits, and it goes on with the winner's ledger."""
    if conn.execute(sqlfiles.read("ledger/select_schema_migration_exists.sql")).fetchone()[0]:
        return
    try:
        with conn.transaction():
            conn.execute(sqlfiles.read("ledger/create_schema_migration.sql"))
    except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable, psycopg.errors.DuplicateSchema):
        log.info("another run created the migration ledger at the same time; using it")
