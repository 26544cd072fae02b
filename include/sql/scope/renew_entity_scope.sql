-- Marks again, in the load's transaction, accounts and contracts the entity holds already and the load's scope has
-- in it (a customer's full sync, for its own): since the moment that scope was resolved, when that is later, and
-- taken by this transaction. A run whose scope is older, or a customer scope whose view of the others predates this
-- transaction, then keeps their rows (macros/held.sql).
with renewed_accounts as (
    update aspire_sync.entity_account_scope as s
    set since = greatest(s.since, %(since)s), taken_xid = pg_current_xact_id()
    where s.entity = %(entity)s and s.account_oid = any(cast(%(accounts)s as bigint[]))
)

update aspire_sync.entity_contract_scope as s
set since = greatest(s.since, %(since)s), taken_xid = pg_current_xact_id()
where s.entity = %(entity)s and s.contract_oid = any(cast(%(contracts)s as bigint[]))
