-- Forgets resolved scopes older than three hours (longer than any run and its retries), except the newest one
-- for every enrolled customer (a customer full sync starts from it). Accounts and contracts go with the last
-- resolution that reads them (a resolution can read another's: members_of). A load whose run's scope is gone
-- resolves it again. Runs under the 'scope_resolution' lock row, as every writer of a resolution does, so no
-- resolution can start reading rows this deletes.
with forgotten as (
    delete from aspire_sync.scope_resolution as r
    where r.resolved_at < now() - interval '3 hours'
      and r.resolution_id < (select coalesce(max(n.resolution_id), 0) from aspire_sync.scope_resolution as n
                             where n.kind = 'all')
    returning r.resolution_id, coalesce(r.members_of, r.resolution_id) as members_id
),
unread as (
    select distinct f.members_id
    from forgotten as f
    where not exists (
        select 1
        from aspire_sync.scope_resolution as s
        where coalesce(s.members_of, s.resolution_id) = f.members_id
          and s.resolution_id not in (select g.resolution_id from forgotten as g)
    )
),
accounts as (
    delete from aspire_sync.scope_account as a
    where a.resolution_id in (select u.members_id from unread as u)
)
delete from aspire_sync.scope_contract as c
where c.resolution_id in (select u.members_id from unread as u)
