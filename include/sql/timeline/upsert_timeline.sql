-- Records what a check (or the start or end of a re-baseline) saw of ASPIRE's timeline, and the sync's state.
insert into aspire_sync.aspire_timeline as t
    (id, database_guid, recovery_fork_guid, highest_dbts, state, detail, detected_at, rebaselined_at,
     rebaseline_started_at, checked_at)
values (1, %(database_guid)s, %(recovery_fork_guid)s, %(dbts)s, %(state)s, %(detail)s, %(detected_at)s,
        %(rebaselined_at)s, %(rebaseline_started_at)s, now())
on conflict (id) do update
set database_guid = excluded.database_guid,
    recovery_fork_guid = excluded.recovery_fork_guid,
    highest_dbts = excluded.highest_dbts,
    state = excluded.state,
    detail = excluded.detail,
    detected_at = excluded.detected_at,
    rebaselined_at = coalesce(excluded.rebaselined_at, t.rebaselined_at),
    rebaseline_started_at = coalesce(excluded.rebaseline_started_at, t.rebaseline_started_at),
    checked_at = excluded.checked_at
