-- Creates schema aspire_sync: the sync's own bookkeeping, which the portal may read to show "data as of".
-- The schema is created only when missing (see V001).
do $$
begin
    if to_regnamespace('aspire_sync') is null then
        create schema aspire_sync;
    end if;
end
$$;

-- Per entity: the ASPIRE row version up to which (exclusive) every change has been applied to the portal.
create table aspire_sync.watermark (
    entity              varchar(40)     primary key,
    high_water_mark     bigint          not null,
    data_as_of          timestamptz     not null,
    updated_at          timestamptz     not null default now(),
    updated_by_run_id   varchar(250)
);

-- One row per entity load: what it read and wrote, how long it took, and how it ended.
create table aspire_sync.run_log (
    run_log_id          bigint          generated always as identity primary key,
    dag_id              varchar(250),
    run_id              varchar(250),
    task_id             varchar(250),
    entity              varchar(40)     not null,
    load_kind           varchar(20)     not null,
    customer_id         bigint,
    low_rowver          bigint,
    high_rowver         bigint,
    modified_from       timestamp(3),
    modified_to         timestamp(3),
    data_as_of          timestamptz,
    started_at          timestamptz     not null,
    finished_at         timestamptz,
    rows_read           bigint,
    rows_inserted       bigint,
    rows_updated        bigint,
    rows_deleted        bigint,
    status              varchar(20)     not null check (status in ('success', 'failed')),
    error               text
);
create index ix_run_log_run on aspire_sync.run_log (dag_id, run_id);
create index ix_run_log_entity on aspire_sync.run_log (entity, started_at desc);

-- Per enrolled customer: when its full sync last completed and the ASPIRE time its data reflects.
create table aspire_sync.customer_sync_status (
    account_oid             bigint          primary key,
    full_sync_completed_at  timestamptz,
    data_as_of              timestamptz,
    last_full_sync_run_id   varchar(250),
    full_sync_requested_at  timestamptz,
    updated_at              timestamptz     not null default now()
);
