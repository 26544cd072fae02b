-- The customer scope as state (see plugins/aspire_portal/scope.py): resolved once per run, persisted, diffed.
--
-- scope_resolution: one resolved scope, with the ASPIRE read bound it was read at. kind 'all' is every enrolled
-- customer (the 15-minute run); kind 'customers' is the latest 'all' scope with some customers re-read from
-- ASPIRE (a customer full sync, or a manual run with customer_ids).
create table aspire_sync.scope_resolution (
    resolution_id       bigint          generated always as identity primary key,
    kind                varchar(10)     not null check (kind in ('all', 'customers')),
    customers           bigint[],
    base_resolution_id  bigint,
    dag_id              varchar(250),
    run_id              varchar(250),
    read_bound          bigint          not null,
    resolved_at         timestamptz     not null,
    accounts            integer         not null,
    contracts           integer         not null
);
create index ix_scope_resolution_run on aspire_sync.scope_resolution (dag_id, run_id, resolution_id desc);

-- The enrolled accounts of a resolution.
create table aspire_sync.scope_account (
    resolution_id   bigint  not null references aspire_sync.scope_resolution on delete cascade,
    account_oid     bigint  not null,
    primary key (resolution_id, account_oid)
);

-- The in-scope contracts of a resolution, and through which enrolled account and role each is in scope.
create table aspire_sync.scope_contract (
    resolution_id   bigint          not null references aspire_sync.scope_resolution on delete cascade,
    contract_oid    bigint          not null,
    account_oid     bigint          not null,
    role_type       varchar(20)     not null,
    primary key (resolution_id, contract_oid, account_oid, role_type)
);
create index ix_scope_contract_account on aspire_sync.scope_contract (resolution_id, account_oid);

-- Per entity, the enrolled accounts whose rows it holds (entity_contract_scope does the same for contracts).
-- Written in the transaction of each load, so it never claims more or less than the entity's rows.
create table aspire_sync.entity_account_scope (
    entity          varchar(40)     not null,
    account_oid     bigint          not null,
    since           timestamptz     not null default now(),
    primary key (entity, account_oid)
);

-- Samples of ASPIRE's newest row version (@@DBTS) with ASPIRE's clock, taken at every read: every transaction
-- committed by sampled_at has row versions at most dbts, so once a load's read bound is above dbts, everything
-- committed by sampled_at is in the portal. That is how "data as of" is derived from the read bound.
create table aspire_sync.aspire_clock (
    sampled_at      timestamptz     not null,
    dbts            bigint          not null,
    primary key (sampled_at, dbts)
);
create index ix_aspire_clock_dbts on aspire_sync.aspire_clock (dbts, sampled_at);

-- "data as of" is unknown (null) until a read bound passes a sample; never a guess.
alter table aspire_sync.watermark alter column data_as_of drop not null;
