-- The ledger of applied portal migrations; created before the first one runs. The schema is created only when
-- missing: where the DBA's setup script created it (owned by the sync's role), no CREATE on the database is needed.
do $$
begin
    if to_regnamespace('aspire_sync') is null then
        create schema aspire_sync;
    end if;
end
$$;
create table if not exists aspire_sync.schema_migration (
    version     integer         primary key,
    name        varchar(200)    not null,
    checksum    varchar(64)     not null,
    applied_at  timestamptz     not null default now()
)
