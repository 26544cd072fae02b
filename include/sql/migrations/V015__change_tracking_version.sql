-- change_tracking_version: with the delete detection change_tracking (SQL Server Change Tracking on ASPIRE), the
-- version up to which each 15-minute entity's deletes are in the portal, moved in the load's transaction.
create table aspire_sync.change_tracking_version (
    entity              varchar(40)     primary key,
    version             bigint          not null,
    updated_at          timestamptz     not null default now(),
    updated_by_run_id   varchar(250)
);
