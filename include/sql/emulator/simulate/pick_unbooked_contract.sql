-- Picks a contract not yet booked: the first one at or after a point (fraction 0-1) of the key range.
select ContractOid as oid
from dbo.Contract
where IsBooked = 0 and Status = 'UnCommenced'
  and ContractOid >= (select floor(min(ContractOid) + %(fraction)s * (max(ContractOid) - min(ContractOid)))::bigint from dbo.Contract)
order by ContractOid
limit 1;
