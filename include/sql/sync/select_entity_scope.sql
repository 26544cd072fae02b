-- The accounts and contracts whose rows one entity holds, and since when (see aspire_sync.entity_*_scope).
select 'account' as kind, s.account_oid as oid, s.since
from aspire_sync.entity_account_scope as s
where s.entity = %(entity)s
union all
select 'contract' as kind, s.contract_oid as oid, s.since
from aspire_sync.entity_contract_scope as s
where s.entity = %(entity)s
