-- The contracts whose existing rows this entity has loaded since they came into scope.
select s.contract_oid
from aspire_sync.entity_contract_scope as s
where s.entity = %(entity)s
