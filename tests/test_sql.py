"""The SQL files: every extract renders and parses as T-SQL (the real source), in each dialect and load kind;
the catalogue and its files agree."""

from __future__ import annotations

import re

import pytest
import sqlglot

from aspire_portal import catalogue, engine, sqlfiles

POSTGRES_ONLY = [r"::", r"\bany\s*\(", r"\blimit\b", r"\bilike\b", r"\breturning\b", r"\bnow\s*\(", r'"']
KINDS = ["full", "incremental", "backfill"]


def as_tsql(statement: str) -> str:
    """sqlglot does not know %(name)s placeholders; T-SQL spells them @name."""
    return re.sub(r"%\((\w+)\)s", r"@\1", statement)


VARIANTS = [(kind, False, False) for kind in KINDS] + [("incremental", True, False), ("incremental", True, True)]


@pytest.mark.parametrize(("kind", "scope_known", "has_new_contracts"), VARIANTS)
@pytest.mark.parametrize("entity", catalogue.ENTITIES, ids=lambda e: e.name)
def test_extract_parses_as_tsql(entity, kind, scope_known, has_new_contracts):
    statement = engine.render_extract(entity, kind, "mssql", scope_known=scope_known,
                                      has_new_contracts=has_new_contracts)
    parsed = sqlglot.parse(as_tsql(statement), read="tsql")
    assert len([p for p in parsed if p is not None]) == 1
    body = "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--"))
    for pattern in POSTGRES_ONLY:
        assert not re.search(pattern, body, re.IGNORECASE), f"{entity.extract_sql} uses PostgreSQL-only {pattern}"


@pytest.mark.parametrize("path", ["extract/select_min_active_rowversion.sql", "extract/select_customer.sql"])
def test_source_lookups_parse_as_tsql(path):
    assert sqlglot.parse_one(as_tsql(sqlfiles.read(path)), read="tsql") is not None


def test_extract_kinds_differ_only_in_the_change_filter():
    entity = catalogue.entity("invoice")
    full = engine.render_extract(entity, "full", "postgres")
    incremental = engine.render_extract(entity, "incremental", "postgres")
    backfill = engine.render_extract(entity, "backfill", "postgres")
    assert "%(low_rowver)s" in incremental and "%(high_rowver)s" in incremental
    assert "%(modified_from)s" in backfill and "RowVer >=" not in backfill
    assert "%(low_rowver)s" not in full and "%(modified_from)s" not in full


def test_incremental_window_is_sargable_on_sql_server_and_new_contracts_only_when_there_are_some():
    invoice = catalogue.entity("invoice")
    plain = engine.render_extract(invoice, "incremental", "mssql", scope_known=True)
    assert "i.RowVer >= cast(cast(%(low_rowver)s as bigint) as binary(8))" in plain
    assert "i.RowVer < cast(cast(%(high_rowver)s as bigint) as binary(8))" in plain
    assert "%(new_contracts)s" not in plain and "%(scoped_contracts)s" in plain
    assert "%(new_contracts)s" in engine.render_extract(invoice, "incremental", "mssql", scope_known=True,
                                                        has_new_contracts=True)
    backfill = engine.render_extract(invoice, "backfill", "mssql")
    assert "i.LastModifiedAt >= cast(%(modified_from)s as datetime2(3))" in backfill
    detail = engine.render_extract(catalogue.entity("invoice_detail"), "incremental", "postgres", scope_known=True)
    assert "inner join dbo.Invoice as changed_parent" in detail  # a changed invoice brings its details


def test_dialect_macros():
    line = catalogue.entity("amortization_line")
    assert "[LineNo]" in engine.render_extract(line, "full", "mssql")
    assert '"LineNo"' in engine.render_extract(line, "full", "postgres")
    assert "cast(l.RowVer as bigint)" in engine.render_extract(line, "incremental", "mssql")


def test_values_are_bound_never_formatted():
    for entity in catalogue.ENTITIES:
        for kind in KINDS:
            statement = engine.render_extract(entity, kind, "postgres")
            assert "%(accounts)s" in statement
            assert "{" not in statement and "}" not in statement


def test_catalogue_structure():
    names = [e.name for e in catalogue.ENTITIES]
    assert len(names) == len(set(names)) == 12
    assert {e.cadence for e in catalogue.ENTITIES} == {"15min", "daily"}
    assert [e.name for e in catalogue.entities("15min")] == [
        "account", "account_contact", "contract", "contract_role", "invoice", "invoice_detail", "cash_receipt"]
    assert [e.name for e in catalogue.entities("daily")] == [
        "contract_scenario", "contract_values", "amortization_line", "equipment", "line_of_credit"]
    for entity in catalogue.ENTITIES:
        assert (sqlfiles.SQL_DIR / entity.extract_sql).is_file(), entity.extract_sql
        assert entity.source_table.startswith("dbo.")
        assert f"from {entity.source_table} as" in sqlfiles.read(entity.extract_sql)
        assert entity.key and entity.owner in ("account", "contract", "account_or_contract", "invoice", "shared")
        assert entity.task_id == f"load_{entity.name}"
    with pytest.raises(ValueError, match="unknown entity 'invoices'; the catalogue has: account"):
        catalogue.entity("invoices")


def test_every_sql_file_opens_with_a_comment():
    for path in sqlfiles.SQL_DIR.rglob("*.sql"):
        first = path.read_text().lstrip().splitlines()[0]
        assert first.startswith("--") or first.startswith("{#"), f"{path} does not say what it does"
