-- Picks an active line of credit: the first one at or after a point (fraction 0-1) of the key range.
select LineOfCreditOid as oid
from dbo.LineOfCredit
where Status = 'Active'
  and LineOfCreditOid >= (select floor(min(LineOfCreditOid) + %(fraction)s * (max(LineOfCreditOid) - min(LineOfCreditOid)))::bigint from dbo.LineOfCredit)
order by LineOfCreditOid
limit 1;
