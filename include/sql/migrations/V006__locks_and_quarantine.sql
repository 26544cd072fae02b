-- sync_lock: one row per thing the loads coordinate on ('entity_scope:<entity>', 'watermark:<entity>'). Loads take
-- these rows FOR UPDATE / FOR SHARE, which needs UPDATE on this table: only the sync's role has it, so no other
-- login can hold a load back (an advisory lock on the same key can be taken by anyone who can connect).
create table aspire_sync.sync_lock (
    name    varchar(100)    primary key
);

-- enrolment_quarantine: values of portal.portal_user_account.account_oid that the sync skips, and why: not a
-- positive bigint, or names no ASPIRE account. Kept current by every resolution of everyone's scope (a value that
-- is fixed leaves the table); every other customer syncs.
create table aspire_sync.enrolment_quarantine (
    account_oid     text            primary key,
    reason          varchar(200)    not null,
    portal_users    integer         not null,
    first_seen_at   timestamptz     not null default now(),
    last_seen_at    timestamptz     not null default now(),
    last_run_id     varchar(250)
);

-- The portal application's reader sees these too (V003's default privileges cover tables created by the role
-- that ran V003; this covers a deployment whose migrations ran under another role since).
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'aspire_portal_reader') then
        grant select on all tables in schema aspire, aspire_sync to aspire_portal_reader;
    end if;
end
$$;
