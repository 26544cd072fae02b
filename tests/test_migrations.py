"""Portal migrations: applied once, in order, safely when two runs start at once; edits to applied ones refused."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from aspire_portal import catalogue, migrations


def test_two_runs_migrating_at_once_apply_each_migration_once(fresh_database):
    dsn = fresh_database("migrations_race")
    results, errors = [], []
    barrier = threading.Barrier(4)

    def migrate():
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                barrier.wait()
                results.append(migrations.migrate(conn))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    names = [f"V{m.version:03d}__{m.name}" for m in migrations.available()]
    assert sorted(results, key=len, reverse=True)[0] == names  # one run applied them all ...
    assert sorted(results, key=len)[:3] == [[], [], []]  # ... the others found nothing to do
    with psycopg.connect(dsn) as conn:
        applied = conn.execute("select version from aspire_sync.schema_migration order by 1").fetchall()
        assert [v for (v,) in applied] == [m.version for m in migrations.available()]
        for entity in catalogue.ENTITIES:
            key = conn.execute(
                "select array_agg(a.attname order by a.attnum) from pg_index i "
                "join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
                "where i.indrelid = to_regclass(%s) and i.indisprimary",
                (entity.target_table,),
            ).fetchone()[0]
            assert tuple(key) == entity.key, entity.name
            columns = {
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns where table_schema = 'aspire' "
                    "and table_name = %s",
                    (entity.name,),
                )
            }
            assert {"source_rowver", "synced_at", "last_modified_at"} <= columns


def test_a_migration_edited_after_it_was_applied_is_refused(fresh_database):
    dsn = fresh_database("migrations_edited")
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrations.migrate(conn)
        assert migrations.migrate(conn) == []
        conn.execute("update aspire_sync.schema_migration set checksum = 'edited' where version = 1")
        with pytest.raises(
            migrations.MigrationError, match=r"V001__create_aspire_tables\.sql was changed after it was applied"
        ):
            migrations.migrate(conn)


def copy_of_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(migrations.sqlfiles.SQL_DIR / "migrations", folder)
    return folder


def ledger(conn):
    return conn.execute("select version, name, checksum from aspire_sync.schema_migration order by 1").fetchall()


def test_a_crlf_checkout_with_trailing_whitespace_is_not_an_edit(fresh_database, tmp_path):
    dsn = fresh_database("migrations_crlf")
    folder = copy_of_migrations(tmp_path)
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrations.migrate(conn)
        before = ledger(conn)
        for path in folder.glob("*.sql"):  # what git does with core.autocrlf=true, and an editor's stray blanks
            text = path.read_text()
            path.write_bytes(("\ufeff" + text.replace("\n", "  \r\n") + "\r\n").encode())
        assert migrations.migrate(conn, folder) == []
        assert ledger(conn) == before


def test_an_applied_migration_deleted_or_renamed_is_an_error_naming_it(fresh_database, tmp_path):
    dsn = fresh_database("migrations_missing")
    folder = copy_of_migrations(tmp_path)
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrations.migrate(conn)
        before = ledger(conn)
        applied = folder / "V004__entity_contract_scope.sql"
        renamed = applied.rename(folder / "V004__contract_scope.sql")
        with pytest.raises(
            migrations.MigrationError,
            match=r"V004__entity_contract_scope\.sql was applied to this "
            r"database but the folder has V004__contract_scope\.sql instead",
        ):
            migrations.migrate(conn, folder)
        renamed.unlink()
        with pytest.raises(
            migrations.MigrationError,
            match=r"V004__entity_contract_scope\.sql was applied to this "
            r"database but is missing from include/sql/migrations",
        ):
            migrations.migrate(conn, folder)
        assert ledger(conn) == before


def test_a_new_migration_numbered_below_the_highest_applied_is_an_error_and_applies_nothing(fresh_database, tmp_path):
    dsn = fresh_database("migrations_order")
    folder = copy_of_migrations(tmp_path)
    highest = max(int(path.name[1:4]) for path in folder.glob("V*.sql"))  # numbered above the real ones
    between, later, next_ = (f"V{highest + n:03d}" for n in (1, 3, 4))
    (folder / f"{later}__later.sql").write_text("create table aspire_sync.later (x int);\n")
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrations.migrate(conn, folder)
        (folder / f"{between}__between.sql").write_text("create table aspire_sync.between_ (x int);\n")
        (folder / f"{next_}__next.sql").write_text("create table aspire_sync.next_ (x int);\n")
        with pytest.raises(
            migrations.MigrationError, match=rf"\['{between}__between\.sql'\] are numbered below {later}"
        ):
            migrations.migrate(conn, folder)
        assert conn.execute("select to_regclass('aspire_sync.next_')").fetchone()[0] is None  # nothing applied
        (folder / f"{between}__between.sql").unlink()
        assert migrations.migrate(conn, folder) == [f"{next_}__next"]


def test_a_database_migrated_with_the_earlier_texts_of_the_rewritten_migrations_takes_the_new_ones(
    fresh_database, tmp_path
):
    """V001-V003 were rewritten in place for least privilege: a ledger holding their earlier checksums is
    accepted (and updated), any other checksum is still an edit."""
    dsn = fresh_database("migrations_rewritten")
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrations.migrate(conn)
        for version, (earlier,) in migrations.REWRITTEN.items():
            conn.execute("update aspire_sync.schema_migration set checksum = %s where version = %s", (earlier, version))
        assert migrations.migrate(conn) == []
        assert [c for _v, _n, c in ledger(conn)] == [m.checksum for m in migrations.available()]


def test_migration_files_are_named_in_order():
    versions = [m.version for m in migrations.available()]
    assert versions == list(range(1, len(versions) + 1))


def test_forgotten_scope_resolutions_take_their_accounts_and_contracts(fresh_database):
    dsn = fresh_database("migrations_forget_scope")
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrations.migrate(conn)
        ids = {}
        for name, kind, age in (
            ("old", "all", "4 hours"),
            ("old_customer", "customers", "5 hours"),
            ("newest_all", "all", "4 hours"),
            ("recent", "customers", "1 hour"),
        ):
            ids[name] = conn.execute(
                "insert into aspire_sync.scope_resolution (kind, read_bound, resolved_at, accounts, contracts) "
                "values (%s, 1, now() - %s::interval, 1, 1) returning resolution_id",
                (kind, age),
            ).fetchone()[0]
            conn.execute("insert into aspire_sync.scope_account values (%s, 1)", (ids[name],))
            conn.execute("insert into aspire_sync.scope_contract values (%s, 10, 1, 'Customer')", (ids[name],))
        conn.execute(migrations.sqlfiles.read("scope/delete_old_scope_resolutions.sql"))
        kept = {"newest_all", "recent"}
        for table in ("scope_resolution", "scope_account", "scope_contract"):
            left = {r[0] for r in conn.execute(f"select resolution_id from aspire_sync.{table}")}
            assert left == {ids[name] for name in kept}, table
