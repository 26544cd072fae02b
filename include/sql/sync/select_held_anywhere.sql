-- The accounts and contracts any entity holds rows of: what the portal holds now, which a new scope of everyone is
-- measured against by the mass-removal guard.
select
    array(select distinct a.account_oid from aspire_sync.entity_account_scope as a) as accounts,
    array(select distinct c.contract_oid from aspire_sync.entity_contract_scope as c) as contracts
