-- Remembers, per entity of the 15-minute set, the contracts whose existing rows it has loaded since they came
-- into scope. A contract in scope in ASPIRE but not here has come (back) into scope: its rows come along, even
-- those written while it was out of scope.
create table aspire_sync.entity_contract_scope (
    entity          varchar(40)     not null,
    contract_oid    bigint          not null,
    since           timestamptz     not null default now(),
    primary key (entity, contract_oid)
);
