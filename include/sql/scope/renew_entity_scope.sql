-- Dates again, in the load's transaction, accounts and contracts the entity holds already and the load's scope has
-- in it (a customer's full sync, for its own): since the moment that scope was resolved, when that is later. A run
-- whose scope is older then counts them as taken in after it, and keeps their rows.
with renewed_accounts as (
    update aspire_sync.entity_account_scope as s
    set since = %(since)s, taken_at = now()
    where s.entity = %(entity)s and s.account_oid = any(cast(%(accounts)s as bigint[])) and s.since < %(since)s
)

update aspire_sync.entity_contract_scope as s
set since = %(since)s, taken_at = now()
where s.entity = %(entity)s and s.contract_oid = any(cast(%(contracts)s as bigint[])) and s.since < %(since)s
