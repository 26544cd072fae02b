-- Removes the accounts and contracts written for one resolution (a copy from a base that did not add up).
with accounts as (
    delete from aspire_sync.scope_account as a
    where a.resolution_id = %(resolution_id)s
)
delete from aspire_sync.scope_contract as c
where c.resolution_id = %(resolution_id)s
