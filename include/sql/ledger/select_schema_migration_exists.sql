-- Whether the migration ledger exists already (then no CREATE privilege on the database is needed).
select to_regclass('aspire_sync.schema_migration') is not null as ledger_exists
