-- Records, in the load's transaction, which accounts and contracts the entity now holds rows of: those it took
-- in are added, since the moment the load's scope was resolved (what the scope knew then: a run whose scope is
-- newer judges them) and with this transaction's id (see macros/held.sql); those it let go are removed.
with dropped_accounts as (
    delete from aspire_sync.entity_account_scope as s
    where s.entity = %(entity)s and s.account_oid = any(cast(%(drop_accounts)s as bigint[]))
),

dropped_contracts as (
    delete from aspire_sync.entity_contract_scope as s
    where s.entity = %(entity)s and s.contract_oid = any(cast(%(drop_contracts)s as bigint[]))
),

added_accounts as (
    insert into aspire_sync.entity_account_scope (entity, account_oid, since, taken_xid)
    select %(entity)s, a.oid, %(since)s, pg_current_xact_id()
    from unnest(cast(%(add_accounts)s as bigint[])) as a(oid)
    on conflict (entity, account_oid) do nothing
)

insert into aspire_sync.entity_contract_scope (entity, contract_oid, since, taken_xid)
select %(entity)s, c.oid, %(since)s, pg_current_xact_id()
from unnest(cast(%(add_contracts)s as bigint[])) as c(oid)
on conflict (entity, contract_oid) do nothing
