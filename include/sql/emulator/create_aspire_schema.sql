-- Creates the ASPIRE emulator: the 12 dbo tables of ASPIRE with SQL Server row-version semantics.
--
-- Identifiers are unquoted (PostgreSQL folds them to lower case, SQL Server matches them case-insensitively),
-- so the same extract text runs on both; "LineNo" is quoted because LINENO is a reserved word in T-SQL.
-- SQL Server types map as: bigint -> bigint, bit -> smallint (0/1, compared with = 1 as in T-SQL),
-- decimal(p,s) -> numeric(p,s), date -> date, datetime2(3) -> timestamp(3), rowversion -> bigint.

create schema if not exists dbo;

-- The row-version counter is the transaction id less an offset, so that a restore can set it back as SQL Server's
-- does (the database counter is part of a backup): `python -m aspire_emulator restore NAME` sets the offset (a
-- database setting, read by every new session) so the next row version follows the backup's @@DBTS.
create or replace function dbo.rowversion_offset() returns bigint
language sql stable parallel safe
as $$ select coalesce(nullif(current_setting('aspire.rowversion_offset', true), '')::bigint, 0) $$;

-- sys.database_recovery_status as SQL Server has it for this database: database_guid names the database (a restore
-- of another database's backup changes it), recovery_fork_guid its timeline (every restore or failover to a point
-- in time starts a new fork).
create schema if not exists sys;
create table if not exists sys.database_recovery_status (
    database_id         int     not null primary key default 1,
    database_guid       uuid    not null default gen_random_uuid(),
    recovery_fork_guid  uuid    not null default gen_random_uuid()
);
insert into sys.database_recovery_status (database_id) values (1) on conflict do nothing;
create or replace function public.db_id() returns int language sql immutable as $$ select 1 $$;

-- RowVer: the id of the writing transaction, like a rowversion taken from the database counter at write time.
-- MIN_ACTIVE_ROWVERSION(): the oldest transaction id still in progress in this database (or the next one when
-- none is), so every row version below it belongs to a finished transaction and no committed row below it can
-- appear later. As on SQL Server it is per database: transaction ids are cluster-wide in PostgreSQL, so the
-- in-progress ids of the current snapshot are kept only when a backend of this database (or a prepared
-- transaction of it) holds them. SECURITY DEFINER: pg_stat_activity hides other roles' transaction ids from an
-- unprivileged login, which would make the bound too high; the function runs as the emulator's owner.
create or replace function dbo.min_active_rowversion() returns bigint
language plpgsql volatile parallel restricted security definer
set search_path = pg_catalog
as $$
declare
    snap pg_snapshot := pg_current_snapshot();
    oldest bigint;
begin
    -- backend activity is cached per transaction: read it afresh, after the snapshot was taken
    perform pg_stat_clear_snapshot();
    select min(x::text::bigint) into oldest
    from pg_snapshot_xip(snap) as x
    where (x::text::bigint & 4294967295) in (
        select a.backend_xid::text::bigint from pg_stat_activity as a
        where a.datname = current_database() and a.backend_xid is not null
            and a.backend_type = 'client backend'  -- autovacuum's analyze holds an xid, yet never writes a row
        union all
        select p.transaction::text::bigint from pg_prepared_xacts as p where p.database = current_database()
    );
    return coalesce(oldest, pg_snapshot_xmax(snap)::text::bigint) - dbo.rowversion_offset();
end
$$;

create or replace function public.min_active_rowversion() returns bigint
language sql volatile parallel restricted
as $$ select dbo.min_active_rowversion() $$;

-- @@DBTS: the newest row version a committed transaction can hold (every transaction that committed before now
-- has a lower id than the snapshot's xmax).
create or replace function dbo.dbts() returns bigint
language sql volatile parallel restricted
as $$ select pg_snapshot_xmax(pg_current_snapshot())::text::bigint - 1 - dbo.rowversion_offset() $$;

-- OPENJSON(@json) over a JSON array, returning its elements as the column "value" (text), as in T-SQL.
create or replace function public.openjson(doc text) returns table (value text)
language sql immutable parallel safe rows 100
as $$ select json_array_elements_text(doc::json) $$;

-- ASPIRE's clock: server local time (America/Chicago), naive. A session may pin it with
-- set aspire.now = '<timestamptz>' to replay activity at a chosen moment (tests of backfills across DST).
create or replace function dbo.aspire_local_now() returns timestamp(3)
language sql stable
as $$
    select (coalesce(nullif(current_setting('aspire.now', true), '')::timestamptz, clock_timestamp())
            at time zone 'America/Chicago')::timestamp(3)
$$;

create or replace function dbo.stamp_row_version() returns trigger
language plpgsql
as $$
begin
    new.rowver := pg_current_xact_id()::text::bigint - dbo.rowversion_offset();
    new.lastmodifiedat := dbo.aspire_local_now();
    return new;
end
$$;

create table if not exists dbo.Account (
    AccountOid      bigint          not null primary key,
    AccountNumber   varchar(20)     not null unique,
    Name            varchar(200)    not null,
    DbaName         varchar(200),
    IsBusiness      smallint        not null check (IsBusiness in (0, 1)),
    Email           varchar(200),
    Phone           varchar(30),
    AddressLine1    varchar(200),
    AddressLine2    varchar(200),
    City            varchar(100),
    State           char(2),
    PostalCode      varchar(10),
    Status          varchar(20)     not null,
    LastModifiedAt  timestamp(3)    not null,
    RowVer          bigint          not null
);

create table if not exists dbo.AccountContact (
    ContactOid      bigint          not null primary key,
    AccountOid      bigint          not null references dbo.Account,
    FirstName       varchar(100)    not null,
    LastName        varchar(100)    not null,
    Email           varchar(200),
    Phone           varchar(30),
    IsPrimary       smallint        not null check (IsPrimary in (0, 1)),
    LastModifiedAt  timestamp(3)    not null,
    RowVer          bigint          not null
);

create table if not exists dbo.ContractScenario (
    ScenarioOid     bigint          not null primary key,
    Name            varchar(100)    not null,
    ProductType     varchar(20)     not null,
    PurchaseOption  varchar(30)     not null,
    LastModifiedAt  timestamp(3)    not null,
    RowVer          bigint          not null
);

create table if not exists dbo.LineOfCredit (
    LineOfCreditOid bigint          not null primary key,
    AccountOid      bigint          not null references dbo.Account,
    LineNumber      varchar(20)     not null,
    ApprovedAmount  numeric(18, 2)  not null,
    UsedAmount      numeric(18, 2)  not null,
    AvailableAmount numeric(18, 2)  not null,
    IsRevolving     smallint        not null check (IsRevolving in (0, 1)),
    EffectiveDate   date            not null,
    ExpirationDate  date,
    Status          varchar(20)     not null,
    LastModifiedAt  timestamp(3)    not null,
    RowVer          bigint          not null
);

create table if not exists dbo.Contract (
    ContractOid         bigint          not null primary key,
    ContractId          varchar(20)     not null unique,
    CustomerAccountOid  bigint          not null references dbo.Account,
    ScenarioOid         bigint          not null references dbo.ContractScenario,
    LineOfCreditOid     bigint          references dbo.LineOfCredit,
    Status              varchar(20)     not null,
    IsBooked            smallint        not null check (IsBooked in (0, 1)),
    BookedDate          date,
    CommencementDate    date,
    MaturityDate        date,
    TermMonths          integer         not null,
    PaymentFrequency    varchar(12)     not null,
    PaymentTiming       varchar(8)      not null,
    PaymentAmount       numeric(18, 2)  not null,
    EquipmentCost       numeric(18, 2)  not null,
    ResidualAmount      numeric(18, 2)  not null,
    Rate                numeric(9, 6)   not null,
    TerminationDate     date,
    LastModifiedAt      timestamp(3)    not null,
    RowVer              bigint          not null
);

create table if not exists dbo.ContractRole (
    ContractRoleOid bigint          not null primary key,
    ContractOid     bigint          not null references dbo.Contract,
    AccountOid      bigint          not null references dbo.Account,
    RoleType        varchar(20)     not null,
    LastModifiedAt  timestamp(3)    not null,
    RowVer          bigint          not null
);

create table if not exists dbo.Invoice (
    InvoiceOid      bigint          not null primary key,
    InvoiceNumber   varchar(20)     not null unique,
    AccountOid      bigint          not null references dbo.Account,
    ContractOid     bigint          references dbo.Contract,
    InvoiceDate     date            not null,
    DueDate         date            not null,
    Amount          numeric(18, 2)  not null,
    Balance         numeric(18, 2)  not null,
    Status          varchar(20)     not null,
    LastModifiedAt  timestamp(3)    not null,
    RowVer          bigint          not null
);

create table if not exists dbo.InvoiceDetail (
    InvoiceDetailOid    bigint          not null primary key,
    InvoiceOid          bigint          not null references dbo.Invoice,
    ContractOid         bigint          references dbo.Contract,
    TransactionCode     varchar(20)     not null,
    Amount              numeric(18, 2)  not null,
    Balance             numeric(18, 2)  not null,
    LastModifiedAt      timestamp(3)    not null,
    RowVer              bigint          not null
);

create table if not exists dbo.CashReceipt (
    ReceiptOid      bigint          not null primary key,
    AccountOid      bigint          not null references dbo.Account,
    ContractOid     bigint          references dbo.Contract,
    ReceivedDate    date            not null,
    PostDate        date,
    Amount          numeric(18, 2)  not null,
    Method          varchar(10)     not null,
    Status          varchar(10)     not null,
    ReferenceNumber varchar(40),
    LastModifiedAt  timestamp(3)    not null,
    RowVer          bigint          not null
);

create table if not exists dbo.ContractValues (
    ContractOid         bigint          not null primary key references dbo.Contract,
    AsOfDate            date            not null,
    PrincipalBalance    numeric(18, 2)  not null,
    InterestRate        numeric(9, 6)   not null,
    PrincipalPaidToDate numeric(18, 2)  not null,
    InterestPaidToDate  numeric(18, 2)  not null,
    RemainingPayments   integer         not null,
    NextDueDate         date,
    NextDueAmount       numeric(18, 2)  not null,
    PastDueAmount       numeric(18, 2)  not null,
    DaysPastDue         integer         not null,
    PayoffAmount        numeric(18, 2)  not null,
    LastModifiedAt      timestamp(3)    not null,
    RowVer              bigint          not null
);

create table if not exists dbo.AmortizationLine (
    ContractOid     bigint          not null references dbo.Contract,
    "LineNo"        integer         not null,
    DueDate         date            not null,
    Payment         numeric(18, 2)  not null,
    Principal       numeric(18, 2)  not null,
    Interest        numeric(18, 2)  not null,
    BeginBalance    numeric(18, 2)  not null,
    EndBalance      numeric(18, 2)  not null,
    LastModifiedAt  timestamp(3)    not null,
    RowVer          bigint          not null,
    primary key (ContractOid, "LineNo")
);

create table if not exists dbo.Equipment (
    EquipmentOid        bigint          not null primary key,
    ContractOid         bigint          not null references dbo.Contract,
    Description         varchar(200)    not null,
    Make                varchar(60),
    Model               varchar(60),
    ModelYear           integer,
    SerialNumber        varchar(40)     not null unique,
    Vin                 varchar(17),
    Quantity            integer         not null,
    CurrentBasisValue   numeric(18, 2)  not null,
    City                varchar(100),
    State               char(2),
    Status              varchar(20)     not null,
    LastModifiedAt      timestamp(3)    not null,
    RowVer              bigint          not null
);

-- Backup and restore, as SQL Server's BACKUP DATABASE and RESTORE DATABASE leave ASPIRE: `python -m aspire_emulator
-- backup NAME` copies every dbo table and the row-version counter (@@DBTS) into schema backup_<name>; `restore NAME`
-- puts them back (row versions as they were), starts a new recovery fork and sets the counter back, so the next row
-- version written follows the backup's @@DBTS, below what a reader of the newer timeline may have seen.
create or replace function dbo.backup_database(backup_name text) returns bigint
language plpgsql
as $$
declare
    t text;
    kept bigint := dbo.dbts();
begin
    if backup_name !~ '^[a-z0-9_]{1,40}$' then
        raise exception 'a backup name is 1 to 40 lower-case letters, digits or underscores, got %', backup_name;
    end if;
    execute format('drop schema if exists %I cascade', 'backup_' || backup_name);
    execute format('create schema %I', 'backup_' || backup_name);
    foreach t in array array['contractscenario', 'account', 'accountcontact', 'lineofcredit', 'contract', 'contractrole', 'equipment', 'amortizationline', 'invoice', 'invoicedetail', 'cashreceipt', 'contractvalues']
    loop
        execute format('create table %I.%I as table dbo.%I', 'backup_' || backup_name, t, t);
    end loop;
    execute format('create table %I.backup_info as select %s::bigint as dbts, clock_timestamp() as taken_at',
                   'backup_' || backup_name, kept);
    return kept;
end
$$;

-- Time passing on this timeline as fast as a test needs: the counter moves on by `versions` row versions, as that
-- many writes would move it, without the transactions (which, cluster-wide, would move every emulator database on).
-- Sessions see it from their next connection, as with a restore.
create or replace function dbo.advance_counter(versions bigint) returns bigint
language plpgsql
as $$
declare
    next_offset bigint;
begin
    if versions is null or versions < 0 then
        raise exception 'the counter only moves on: versions must be 0 or more, got %', versions;
    end if;
    next_offset := dbo.rowversion_offset() - versions;
    execute format('alter database %I set aspire.rowversion_offset = %L', current_database(), next_offset::text);
    return pg_snapshot_xmax(pg_current_snapshot())::text::bigint - 1 - next_offset;
end
$$;

create or replace function dbo.restore_database(backup_name text) returns bigint
language plpgsql
as $$
declare
    t text;
    kept bigint;
begin
    if not exists (select 1 from pg_namespace where nspname = 'backup_' || backup_name) then
        raise exception 'no backup named % (python -m aspire_emulator backup %)', backup_name, backup_name;
    end if;
    execute format('select dbts from %I.backup_info', 'backup_' || backup_name) into kept;
    execute 'truncate ' || (select string_agg(format('dbo.%I', x), ', ') from unnest(array['contractscenario', 'account', 'accountcontact', 'lineofcredit', 'contract', 'contractrole', 'equipment', 'amortizationline', 'invoice', 'invoicedetail', 'cashreceipt', 'contractvalues']) as x);
    foreach t in array array['contractscenario', 'account', 'accountcontact', 'lineofcredit', 'contract', 'contractrole', 'equipment', 'amortizationline', 'invoice', 'invoicedetail', 'cashreceipt', 'contractvalues']
    loop
        execute format('alter table dbo.%I disable trigger user', t);  -- row versions and change tracking: the backup's
        execute format('insert into dbo.%I select * from %I.%I', t, 'backup_' || backup_name, t);
        execute format('alter table dbo.%I enable trigger user', t);
    end loop;
    update sys.database_recovery_status set recovery_fork_guid = gen_random_uuid();
    -- the counter: the next transaction's row version is the backup's @@DBTS + 1
    execute format('alter database %I set aspire.rowversion_offset = %L', current_database(),
                   (pg_current_xact_id()::text::bigint - kept)::text);
    return kept;
end
$$;

-- Change Tracking, as SQL Server keeps it on the tables a DBA enables it for (ALTER TABLE … ENABLE CHANGE_TRACKING):
-- per changed row its key, the version of the change and what happened (I, U, D), kept for the database's retention
-- and then cleaned up, which raises the table's minimum valid version. Versions count committed transactions, in the
-- order they commit, as on SQL Server (a counter of its own, not the row versions): a transaction's changes are
-- logged without one, and a trigger deferred to its commit numbers them holding a lock that the next committing
-- transaction waits for, so the current version never passes a change that has not committed yet, whatever other
-- transaction is still open.
create table if not exists sys.change_tracking_tables (
    object_name         text            primary key,  -- 'dbo.CashReceipt'
    key_column          text            not null,
    min_valid_version   bigint          not null,
    enabled_at          timestamptz     not null default clock_timestamp()
);

create table if not exists sys.change_tracking_log (
    change_id               bigint          generated always as identity,  -- the order within a transaction
    object_name             text            not null,
    pk                      bigint          not null,
    sys_change_version      bigint,
    sys_change_operation    char(1)         not null,
    txid                    xid8            not null default pg_current_xact_id(),
    logged_at               timestamptz     not null default clock_timestamp()
);
create index if not exists change_tracking_log_by_version on sys.change_tracking_log (object_name, sys_change_version);
create index if not exists change_tracking_log_unnumbered on sys.change_tracking_log (txid)
    where sys_change_version is null;
create sequence if not exists sys.change_tracking_version_seq;

-- One version per transaction, as SQL Server gives all of a transaction's changes its commit's version.
create or replace function dbo.number_changes() returns trigger
language plpgsql
as $$
declare
    version bigint;
    numbered bigint;
begin
    -- The trigger fires once per logged change: the first numbers all of them, and each later one would look for
    -- unnumbered changes again through index entries the update left behind (a transaction that logged n changes
    -- walked about n²/2 of them: minutes at 100,000). So the changes numbered are remembered for the transaction.
    if new.change_id <= coalesce(nullif(current_setting('aspire.changes_numbered_through', true), '')::bigint, -1) then
        return null;
    end if;
    perform pg_advisory_xact_lock(hashtext('aspire change tracking commit'));
    select max(l.change_id) into numbered
    from sys.change_tracking_log as l
    where l.txid = pg_current_xact_id() and l.sys_change_version is null;
    if numbered is not null then
        version := nextval('sys.change_tracking_version_seq');
        update sys.change_tracking_log as l
        set sys_change_version = version
        where l.txid = pg_current_xact_id() and l.sys_change_version is null;
        perform set_config('aspire.changes_numbered_through', numbered::text, true);
    end if;
    return null;
end
$$;

drop trigger if exists number_changes on sys.change_tracking_log;
create constraint trigger number_changes after insert on sys.change_tracking_log
    deferrable initially deferred for each row execute function dbo.number_changes();

-- CHANGE_TRACKING_CURRENT_VERSION(): the newest committed version.
create or replace function dbo.change_tracking_current_version() returns bigint
language sql volatile
as $$
    select greatest(
        (select max(l.sys_change_version) from sys.change_tracking_log as l),
        (select max(t.min_valid_version) from sys.change_tracking_tables as t),
        0)
$$;

-- CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(name)): null when the table is not tracked, as on SQL Server.
create or replace function dbo.change_tracking_min_valid_version(name text) returns bigint
language sql stable
as $$ select t.min_valid_version from sys.change_tracking_tables as t where lower(t.object_name) = lower(name) $$;

-- CHANGETABLE(CHANGES name, last_sync_version): one row per row changed after last_sync_version, with its latest
-- version and its net operation (D when it is gone, I when it was inserted since, else U).
create or replace function dbo.changetable_changes(name text, last_sync_version bigint)
returns table (pk bigint, sys_change_version bigint, sys_change_operation char(1))
language plpgsql stable
as $$
begin
    if dbo.change_tracking_min_valid_version(name) is null then
        raise exception 'Change tracking is not enabled on table ''%''.', name using errcode = 'P0001';
    end if;
    return query
    select l.pk, max(l.sys_change_version),
           case
               when (array_agg(l.sys_change_operation order by l.sys_change_version desc, l.change_id desc))[1] = 'D'
                   then 'D'
               when (array_agg(l.sys_change_operation order by l.sys_change_version, l.change_id))[1] = 'I' then 'I'
               else 'U'
           end::char(1)
    from sys.change_tracking_log as l
    where lower(l.object_name) = lower(name) and l.sys_change_version > last_sync_version
    group by l.pk;
end
$$;

create or replace function dbo.track_changes() returns trigger
language plpgsql
as $$
declare
    operation char(1) := left(TG_OP, 1);
begin
    execute format(
        'insert into sys.change_tracking_log (object_name, pk, sys_change_operation) '
        'select %L, c.%I, $1 from changed as c', TG_ARGV[0], TG_ARGV[1])
    using operation;
    return null;
end
$$;

-- ALTER TABLE name ENABLE CHANGE_TRACKING, for each table given (object name and key column); the current version.
create or replace function dbo.enable_change_tracking(tables text[], keys text[]) returns bigint
language plpgsql
as $$
declare
    i int;
    bare text;
    operation text;
    current_version bigint := dbo.change_tracking_current_version();
begin
    for i in 1 .. coalesce(array_length(tables, 1), 0) loop
        bare := lower(split_part(tables[i], '.', 2));
        insert into sys.change_tracking_tables (object_name, key_column, min_valid_version)
        values (tables[i], keys[i], current_version)
        on conflict (object_name) do nothing;
        foreach operation in array array['insert', 'update', 'delete'] loop
            -- a delete's rows are in its old table, an insert's and an update's in the new one
            execute format('drop trigger if exists %I on dbo.%I', 'track_' || operation || 's', bare);
            execute format('create trigger %I after %s on dbo.%I referencing %s table as changed '
                           'for each statement execute function dbo.track_changes(%L, %L)',
                           'track_' || operation || 's', operation, bare,
                           case operation when 'delete' then 'old' else 'new' end, tables[i], lower(keys[i]));
        end loop;
    end loop;
    return current_version;
end
$$;

-- The cleanup SQL Server runs after the retention period: changes logged longer ago than `older_than` go, and the
-- tables' minimum valid version rises past them (a reader whose last version is below it must start over).
create or replace function dbo.change_tracking_cleanup(older_than interval) returns bigint
language plpgsql
as $$
declare
    removed bigint;
begin
    with gone as (
        delete from sys.change_tracking_log as l
        where l.logged_at < clock_timestamp() - older_than
        returning l.object_name, l.sys_change_version
    ), highest as (
        select g.object_name, max(g.sys_change_version) as version from gone as g group by g.object_name
    ), raised as (
        update sys.change_tracking_tables as t
        set min_valid_version = greatest(t.min_valid_version, h.version)
        from highest as h
        where h.object_name = t.object_name
        returning 1
    )
    select count(*) into removed from gone;
    return removed;
end
$$;
