"""The SQL files: every extract renders and parses as T-SQL (the real source), in each dialect and load kind;
the catalogue and its files agree."""

from __future__ import annotations

import re

import pytest
import sqlglot

from aspire_portal import catalogue, sqlfiles, staging

POSTGRES_ONLY = [r"::", r"\bany\s*\(", r"\blimit\b", r"\bilike\b", r"\breturning\b", r"\bnow\s*\(", r'"']
KINDS = ["full", "incremental", "backfill"]


def as_tsql(statement: str) -> str:
    """sqlglot does not know %(name)s placeholders; T-SQL spells them @name."""
    return re.sub(r"%\((\w+)\)s", r"@\1", statement)


VARIANTS = [(kind, scope_known) for kind in KINDS for scope_known in (False, True)]


def assert_tsql(statement: str, name: str) -> None:
    parsed = sqlglot.parse(as_tsql(statement), read="tsql")
    assert len([p for p in parsed if p is not None]) == 1
    body = "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--"))
    for pattern in POSTGRES_ONLY:
        assert not re.search(pattern, body, re.IGNORECASE), f"{name} uses PostgreSQL-only {pattern}"


@pytest.mark.parametrize(("kind", "scope_known"), VARIANTS)
@pytest.mark.parametrize("entity", catalogue.ENTITIES, ids=lambda e: e.name)
def test_extract_parses_as_tsql(entity, kind, scope_known):
    assert_tsql(staging.render_extract(entity, kind, "mssql", scope_known=scope_known), entity.extract_sql)


@pytest.mark.parametrize("lengths", [(1, 444), (0, 3), (2, 0)], ids=["one-customer", "no-accounts", "no-contracts"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("entity", catalogue.ENTITIES, ids=lambda e: e.name)
def test_extract_with_short_id_lists_parses_as_tsql(entity, kind, lengths):
    """A load of a few customers binds its ids one by one (a plain IN list), each list within SQL Server's limits."""
    accounts, contracts = (list(range(1, lengths[0] + 1)), list(range(1, lengths[1] + 1)))
    short_lists, parameters = sqlfiles.id_lists(accounts=accounts, scoped_contracts=contracts)
    statement = staging.render_extract(entity, kind, "mssql", short_lists=short_lists)
    assert_tsql(statement, entity.extract_sql)
    assert "openjson" not in statement.lower()
    assert set(re.findall(r"%\((\w+)\)s", statement)) <= set(parameters) | {
        "watermark",
        "read_bound",
        "modified_from",
        "modified_to",
    }
    assert len(set(re.findall(r"%\((\w+)\)s", statement))) < 2_100


def test_long_id_lists_travel_as_one_json_parameter():
    short_lists, parameters = sqlfiles.id_lists(accounts=list(range(sqlfiles.SHORT_LIST + 1)), scoped_contracts=[7])
    assert short_lists == {"scoped_contracts": 1} and parameters["scoped_contracts_0"] == 7
    statement = staging.render_extract(catalogue.entity("invoice"), "full", "mssql", short_lists=short_lists)
    assert "openjson(%(accounts)s)" in statement and "%(scoped_contracts_0)s" in statement


@pytest.mark.parametrize(
    "path",
    [
        "extract/select_min_active_rowversion.sql",
        "extract/select_customer.sql",
        "extract/select_scope_links.sql",
        "extract/select_existing_accounts.sql",
        "extract/select_scope_fingerprint.sql",
        "extract/select_timeline.sql",
    ],
)
def test_source_lookups_parse_as_tsql(path):
    assert_tsql(sqlfiles.render(path, dialect="mssql"), path)


def test_scope_links_of_given_contracts_parse_as_tsql():
    path = "extract/select_scope_links.sql"
    statement = sqlfiles.render(path, dialect="mssql", by_contracts=True)
    assert_tsql(statement, path)
    assert "r.ContractOid in (select cast(value as bigint) from openjson(%(contracts)s))" in statement


@pytest.mark.parametrize(
    "path",
    [
        "explain/select_contract.sql",
        "explain/select_contract_roles.sql",
        "explain/select_invoice.sql",
        "explain/select_receipt.sql",
        "explain/select_account.sql",
    ],
)
def test_explain_lookups_parse_as_tsql(path):
    assert_tsql(sqlfiles.render(path, dialect="mssql"), path)


def test_invoice_owners_parse_as_tsql():
    path = "extract/select_invoice_owners.sql"
    assert_tsql(sqlfiles.render(path, dialect="mssql", load_kind="full", scope_known=True), path)


def test_invoice_owners_with_short_lists_parse_as_tsql():
    short_lists, _parameters = sqlfiles.id_lists(accounts=[1], scoped_contracts=[2, 3])
    statement = sqlfiles.render(
        "extract/select_invoice_owners.sql",
        dialect="mssql",
        load_kind="full",
        scope_known=True,
        short_lists=short_lists,
    )
    assert_tsql(statement, "extract/select_invoice_owners.sql")
    assert "openjson" not in statement.lower()


# CHANGETABLE(CHANGES <table>, <last_sync_version>) is T-SQL grammar of its own, which sqlglot does not know: the test
# holds the clause to that grammar exactly, then parses the rest with it written as a plain table function.
CHANGETABLE = re.compile(r"CHANGETABLE\(CHANGES (dbo\.[A-Za-z]+), (@\w+)\) as ct")


@pytest.mark.parametrize("entity", catalogue.entities("15min"), ids=lambda e: e.name)
def test_delete_detection_lookups_parse_as_tsql(entity):
    shape = {"source_table": entity.source_table, "source_key": entity.source_key[0], "key": entity.key[0]}
    existing = sqlfiles.render(
        "extract/select_existing_keys.sql",
        dialect="mssql",
        source_table=entity.source_table,
        keys=list(zip(entity.source_key, entity.key, strict=True)),
    )
    assert_tsql(existing, "extract/select_existing_keys.sql")
    versions = sqlfiles.render("extract/select_change_tracking_versions.sql", dialect="mssql", **shape)
    assert_tsql(versions, "extract/select_change_tracking_versions.sql")
    assert f"CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('{entity.source_table}'))" in versions
    deleted = as_tsql(sqlfiles.render("extract/select_deleted_keys.sql", dialect="mssql", **shape))
    clause = CHANGETABLE.search(deleted)
    assert clause and clause.groups() == (entity.source_table, "@last_version"), deleted
    assert_tsql(CHANGETABLE.sub(r"CHANGETABLE(\1, \2) as ct", deleted), "extract/select_deleted_keys.sql")
    assert f"ct.{entity.source_key[0]} as {entity.key[0]}" in deleted
    # sqlglot knows only the standard isolation levels; the statements are held to T-SQL's grammar instead
    isolation = re.compile(
        r"SET TRANSACTION ISOLATION LEVEL (READ UNCOMMITTED|READ COMMITTED|REPEATABLE READ|SNAPSHOT|SERIALIZABLE)"
    )
    for path, level in (("extract/begin_snapshot.sql", "SNAPSHOT"), ("extract/end_snapshot.sql", "READ COMMITTED")):
        body = [line for line in sqlfiles.render(path, dialect="mssql").splitlines() if line and line[:2] != "--"]
        assert len(body) == 1 and (found := isolation.fullmatch(body[0].strip())) and found.group(1) == level, body
    for keys in ([1, 2], list(range(2000))):
        short_lists, _parameters = sqlfiles.id_lists(keys=keys)
        present = sqlfiles.render("extract/select_keys_present.sql", dialect="mssql", short_lists=short_lists, **shape)
        assert_tsql(present, "extract/select_keys_present.sql")


@pytest.mark.parametrize("kind", ["incremental", "backfill"])
@pytest.mark.parametrize("entity", catalogue.entities("15min"), ids=lambda e: e.name)
def test_changed_keys_parse_as_tsql(entity, kind):
    statement = sqlfiles.render(
        "extract/select_changed_keys.sql",
        dialect="mssql",
        load_kind=kind,
        source_table=entity.source_table,
        parent=entity.parent,
        keys=list(zip(entity.source_key, entity.key, strict=True)),
    )
    assert_tsql(statement, "extract/select_changed_keys.sql")
    assert f"from {entity.source_table} as x" in statement


def test_extract_kinds_differ_only_in_the_change_filter():
    entity = catalogue.entity("invoice")
    full = staging.render_extract(entity, "full", "postgres")
    incremental = staging.render_extract(entity, "incremental", "postgres")
    backfill = staging.render_extract(entity, "backfill", "postgres")
    assert "%(watermark)s" in incremental and "%(read_bound)s" in incremental
    assert "%(modified_from)s" in backfill and "RowVer >=" not in backfill
    assert "%(watermark)s" not in full and "%(modified_from)s" not in full


def test_incremental_window_is_sargable_on_sql_server_and_reads_the_resolved_scope():
    invoice = catalogue.entity("invoice")
    plain = staging.render_extract(invoice, "incremental", "mssql", scope_known=True)
    assert "i.RowVer >= cast(cast(%(watermark)s as bigint) as binary(8))" in plain
    assert "i.RowVer < cast(cast(%(read_bound)s as bigint) as binary(8))" in plain
    assert "%(scoped_contracts)s" in plain and "dbo.ContractRole" not in plain
    backfill = staging.render_extract(invoice, "backfill", "mssql")
    assert "i.LastModifiedAt >= cast(%(modified_from)s as datetime2(3))" in backfill
    detail = staging.render_extract(catalogue.entity("invoice_detail"), "incremental", "postgres", scope_known=True)
    assert "inner join dbo.Invoice as changed_parent" in detail  # a changed invoice brings its details


def test_dialect_macros():
    line = catalogue.entity("amortization_line")
    assert "[LineNo]" in staging.render_extract(line, "full", "mssql")
    assert '"LineNo"' in staging.render_extract(line, "full", "postgres")
    assert "cast(l.RowVer as bigint)" in staging.render_extract(line, "incremental", "mssql")


def test_values_are_bound_never_formatted():
    for entity in catalogue.ENTITIES:
        for kind in KINDS:
            statement = staging.render_extract(entity, kind, "postgres")
            assert "%(accounts)s" in statement or "%(scoped_contracts)s" in statement
            assert "{" not in statement and "}" not in statement


def test_catalogue_structure():
    names = [e.name for e in catalogue.ENTITIES]
    assert len(names) == len(set(names)) == 12
    assert {e.cadence for e in catalogue.ENTITIES} == {"15min", "daily"}
    assert [e.name for e in catalogue.entities("15min")] == [
        "account",
        "account_contact",
        "contract",
        "contract_role",
        "invoice",
        "invoice_detail",
        "cash_receipt",
    ]
    assert [e.name for e in catalogue.entities("daily")] == [
        "contract_scenario",
        "contract_values",
        "amortization_line",
        "equipment",
        "line_of_credit",
    ]
    for entity in catalogue.ENTITIES:
        assert (sqlfiles.SQL_DIR / entity.extract_sql).is_file(), entity.extract_sql
        assert entity.source_table.startswith("dbo.")
        assert f"from {entity.source_table} as" in sqlfiles.read(entity.extract_sql)
        assert entity.key and entity.owner in ("account", "contract", "account_or_contract", "invoice", "shared")
        assert entity.task_id == f"load_{entity.name}"
        assert len(entity.source_key) == len(entity.key), entity.name
        assert entity.follows_accounts or entity.follows_contracts, entity.name
    with pytest.raises(ValueError, match="unknown entity 'invoices'; the catalogue has: account"):
        catalogue.entity("invoices")


def test_the_change_watchers_clock_parses_as_tsql_and_seeks_each_table():
    """One statement, a MAX per 15-minute table on RowVer itself (the cast outside the MAX keeps the index seek)."""
    tables = [e.source_table for e in catalogue.entities("15min")]
    statement = sqlfiles.render("extract/select_change_clock.sql", dialect="mssql", tables=tables)
    assert_tsql(statement, "extract/select_change_clock.sql")
    for table in tables:
        assert f"(select cast(max(x.RowVer) as bigint) from {table} as x)" in statement
    assert "min_active_rowversion()" in statement


def test_every_sql_file_opens_with_a_comment():
    for path in sqlfiles.SQL_DIR.rglob("*.sql"):
        first = path.read_text().lstrip().splitlines()[0]
        assert first.startswith("--") or first.startswith("{#"), f"{path} does not say what it does"


@pytest.mark.parametrize("retry", [[7], list(range(1, sqlfiles.SHORT_LIST + 2))], ids=["short", "long"])
@pytest.mark.parametrize("entity", catalogue.ENTITIES, ids=lambda e: e.name)
def test_retry_extract_reads_quarantined_keys_and_parses_as_tsql(entity, retry):
    """The pass that reads quarantined rows again, by their first key column, within the load's scope."""
    short_lists, parameters = sqlfiles.id_lists(accounts=[1, 2], scoped_contracts=[3], retry_keys=retry)
    statement = staging.render_extract(entity, "retry", "mssql", short_lists=short_lists)
    assert_tsql(statement, entity.extract_sql)
    assert re.search(rf"\.{entity.source_key[0]} in \(", statement)
    assert set(re.findall(r"%\((\w+)\)s", statement)) <= set(parameters)
