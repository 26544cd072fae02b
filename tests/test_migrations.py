"""Portal migrations: applied once, in order, safely when two runs start at once; edits to applied ones refused."""

from __future__ import annotations

import threading

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
                "where i.indrelid = to_regclass(%s) and i.indisprimary", (entity.target_table,)).fetchone()[0]
            assert tuple(key) == entity.key, entity.name
            columns = {r[0] for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'aspire' "
                "and table_name = %s", (entity.name,))}
            assert {"source_rowver", "synced_at", "last_modified_at"} <= columns


def test_a_migration_edited_after_it_was_applied_is_refused(fresh_database):
    dsn = fresh_database("migrations_edited")
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrations.migrate(conn)
        assert migrations.migrate(conn) == []
        conn.execute("update aspire_sync.schema_migration set checksum = 'edited' where version = 1")
        with pytest.raises(RuntimeError, match="V001 .* was changed after it was applied"):
            migrations.migrate(conn)


def test_migration_files_are_named_in_order():
    versions = [m.version for m in migrations.available()]
    assert versions == list(range(1, len(versions) + 1))
