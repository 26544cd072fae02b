-- One resolved scope's enrolled accounts, and its in-scope contracts with the account and role that bring each in,
-- as arrays in one row (tens of thousands of ids at scale: one row to decode, not one per id); read through the
-- resolution's members_id (see select_scope_resolution.sql).
select
    (select coalesce(array_agg(a.account_oid), '{}')
     from aspire_sync.scope_account as a
     where a.resolution_id = %(members_id)s) as accounts,
    c.contracts, c.owners, c.roles
from (
    select coalesce(array_agg(s.contract_oid), '{}') as contracts,
           coalesce(array_agg(s.account_oid), '{}') as owners,
           coalesce(array_agg(s.role_type::text), '{}') as roles
    from aspire_sync.scope_contract as s
    where s.resolution_id = %(members_id)s
) as c
