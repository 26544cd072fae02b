-- Whether a resolution still reads the accounts and contracts stored under members_id (then they are all there:
-- they are deleted only with the last resolution that reads them).
select exists (
    select 1
    from aspire_sync.scope_resolution as r
    where coalesce(r.members_of, r.resolution_id) = %(members_id)s
) as still_read
