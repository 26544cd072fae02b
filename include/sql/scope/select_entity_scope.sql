-- The accounts and contracts whose rows one entity holds (see aspire_sync.entity_*_scope), and those of them taken
-- in by a load the judging scope cannot know (macros/held.sql), as four arrays in one row (tens of thousands of ids
-- at scale: one row to decode), with the version of the held state they are (entity_scope_state; null before its
-- first change).
{% import "macros/held.sql" as held %}
select a.oids as accounts, c.oids as contracts, a.taken as taken_accounts, c.taken as taken_contracts,
       (select v.version from aspire_sync.entity_scope_state as v where v.entity = %(entity)s) as version
from (
    select coalesce(array_agg(s.account_oid), '{}') as oids,
           coalesce(array_agg(s.account_oid) filter (where {{ held.taken("s", taken_by) }}), '{}') as taken
    from aspire_sync.entity_account_scope as s
    where s.entity = %(entity)s
) as a
cross join (
    select coalesce(array_agg(s.contract_oid), '{}') as oids,
           coalesce(array_agg(s.contract_oid) filter (where {{ held.taken("s", taken_by) }}), '{}') as taken
    from aspire_sync.entity_contract_scope as s
    where s.entity = %(entity)s
) as c
