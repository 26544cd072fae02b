-- alert_state: one row per condition the freshness check watches ('portal_stale': the oldest 15-minute entity's
-- data_as_of is older than the threshold). It remembers what the person on call was last told, so a stale portal
-- is mailed once, again at most every re-alert interval while it stays stale, and once more when it is fresh again.
create table aspire_sync.alert_state (
    alert               varchar(100)    primary key,
    firing              boolean         not null,
    firing_since        timestamptz,
    detail              text,
    notified_firing     boolean         not null default false,
    notified_at         timestamptz,
    notifications       integer         not null default 0,
    last_checked_at     timestamptz     not null,
    last_run_id         varchar(250)
);

comment on column aspire_sync.alert_state.firing is 'the condition held at the last check';
comment on column aspire_sync.alert_state.firing_since is 'when the checks began finding it (null while it does not hold)';
comment on column aspire_sync.alert_state.detail is 'what the last check found, one line per stale entity';
comment on column aspire_sync.alert_state.notified_firing is 'the last notification delivered said the condition holds';
comment on column aspire_sync.alert_state.notified_at is 'when the last notification was delivered';

-- The portal application's reader sees it too (see V006).
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'aspire_portal_reader') then
        grant select on all tables in schema aspire, aspire_sync to aspire_portal_reader;
    end if;
end
$$;
