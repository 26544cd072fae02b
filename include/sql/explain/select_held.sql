-- Whether one entity already holds rows of any of these accounts or contracts (its scope state): then a row of theirs
-- below the watermark that is missing from the portal will not come with the next 15-minute run (it is drift).
select
    exists (
        select 1
        from aspire_sync.entity_account_scope as a
        where a.entity = %(entity)s
          and a.account_oid = any(%(accounts)s)
    )
    or exists (
        select 1
        from aspire_sync.entity_contract_scope as c
        where c.entity = %(entity)s
          and c.contract_oid = any(%(contracts)s)
    ) as held
