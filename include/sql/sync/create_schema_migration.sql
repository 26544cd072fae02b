-- The ledger of applied portal migrations; created before the first one runs.
create schema if not exists aspire_sync;
create table if not exists aspire_sync.schema_migration (
    version     integer         primary key,
    name        varchar(200)    not null,
    checksum    varchar(64)     not null,
    applied_at  timestamptz     not null default now()
)
