-- Records the contracts in scope as of this load, in the load's transaction: contracts that left the scope are
-- forgotten (so their rows are brought along again if they come back); those that came in are remembered.
with forgotten as (
    delete from aspire_sync.entity_contract_scope as s
    where s.entity = %(entity)s
      and not exists (
            select 1
            from unnest(cast(%(in_scope)s as bigint[])) as now_in(contract_oid)
            where now_in.contract_oid = s.contract_oid
      )
)

insert into aspire_sync.entity_contract_scope (entity, contract_oid)
select %(entity)s, came_in.contract_oid
from unnest(cast(%(new_contracts)s as bigint[])) as came_in(contract_oid)
on conflict (entity, contract_oid) do nothing
