-- reconciliation: what ASPIRE's in-scope data and the portal disagreed on, measured per entity by each daily refresh
-- (from the rows it staged, before its merge: phase 'before'; and again after its merge and deletes: 'after', which
-- must be zero) and by `python -m aspire_portal reconcile` ('on_demand'). A row with account_oid and contract_oid
-- null is the entity's total; the others are the customers (accounts, or contracts for the tables keyed by contract)
-- where the measure differs. difference = portal - aspire; for changed_rows it is the number of rows whose values
-- differ.
create table aspire_sync.reconciliation (
    reconciliation_id   bigint          generated always as identity primary key,
    dag_id              varchar(250),
    run_id              varchar(250),
    task_id             varchar(250),
    checked_at          timestamptz     not null default now(),
    phase               varchar(10)     not null check (phase in ('before', 'after', 'on_demand')),
    entity              varchar(40)     not null,
    measure             varchar(60)     not null,
    account_oid         bigint,
    contract_oid        bigint,
    aspire_value        numeric,
    portal_value        numeric,
    difference          numeric         not null,
    read_bound          bigint
);
create index ix_reconciliation_run on aspire_sync.reconciliation (run_id, entity);
create index ix_reconciliation_checked on aspire_sync.reconciliation (checked_at desc, entity);

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'aspire_portal_reader') then
        grant select on aspire_sync.reconciliation to aspire_portal_reader;
    end if;
end
$$;
