-- The accounts and contracts whose rows one entity holds, and since when (see aspire_sync.entity_*_scope), as four
-- aligned arrays in one row (tens of thousands of ids at scale: one row to decode, not one per id).
select a.oids as account_oids, a.sinces as account_sinces, c.oids as contract_oids, c.sinces as contract_sinces
from (
    select coalesce(array_agg(s.account_oid), '{}') as oids, coalesce(array_agg(s.since), '{}') as sinces
    from aspire_sync.entity_account_scope as s
    where s.entity = %(entity)s
) as a
cross join (
    select coalesce(array_agg(s.contract_oid), '{}') as oids, coalesce(array_agg(s.since), '{}') as sinces
    from aspire_sync.entity_contract_scope as s
    where s.entity = %(entity)s
) as c
