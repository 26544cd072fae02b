-- The contracts the portal has; a contract in scope in ASPIRE but not here has just come into scope.
select c.contract_oid
from aspire.contract as c
