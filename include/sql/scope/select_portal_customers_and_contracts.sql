-- The accounts the portal shows as customers and the contracts it shows (those the account and contract entities hold
-- rows of): what a new scope of everyone is measured against by the mass-removal guard.
select
    array(select a.account_oid from aspire_sync.entity_account_scope as a where a.entity = 'account') as accounts,
    array(select c.contract_oid from aspire_sync.entity_contract_scope as c where c.entity = 'contract') as contracts
