-- The accounts the portal shows as customers and the contracts it shows (those the account and contract entities hold
-- rows of): what a new scope of everyone is measured against by the mass-removal guard. Null for an entity known to
-- hold exactly the stored scope the new one shares (members_id, as the entity followed it): it lets go of none.
with known as (
    select s.entity
    from aspire_sync.entity_scope_state as s
    where s.members_id = %(members_id)s
      and (s.entity, s.follows) in (('account', %(account_follows)s), ('contract', %(contract_follows)s))
)
select
    case
        when 'account' in (select k.entity from known as k) then null
        else array(select a.account_oid from aspire_sync.entity_account_scope as a where a.entity = 'account')
    end as accounts,
    case
        when 'contract' in (select k.entity from known as k) then null
        else array(select c.contract_oid from aspire_sync.entity_contract_scope as c where c.entity = 'contract')
    end as contracts
