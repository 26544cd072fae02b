-- aspire_timeline: which ASPIRE the watermarks belong to. A row version is only comparable within one timeline of
-- one database: a restore from a backup, a failover to a replica that lagged, or a refresh of a test system from
-- production sets ASPIRE's counter back below the stored watermarks, and a row-version cursor would then skip every
-- change until the counter passes them again. Each run compares ASPIRE's identity (database_guid and
-- recovery_fork_guid of sys.database_recovery_status) and @@DBTS with what is kept here; `state` says what the sync
-- does about it: ok, went_back (the 15-minute loads refuse, a re-baseline is due), rebaselining.
create table aspire_sync.aspire_timeline (
    id                  smallint        primary key default 1 check (id = 1),
    database_guid       varchar(36),
    recovery_fork_guid  varchar(36),
    highest_dbts        bigint,
    state               varchar(20)     not null default 'ok'
                                        check (state in ('ok', 'went_back', 'rebaselining')),
    detail              text,
    detected_at         timestamptz,
    rebaselined_at      timestamptz,
    checked_at          timestamptz     not null default now()
);
