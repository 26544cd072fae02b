-- Picks an active account: the first one at or after a point (fraction 0-1) of the key range.
select AccountOid as oid
from dbo.Account
where Status = 'Active'
  and AccountOid >= (select floor(min(AccountOid) + %(fraction)s * (max(AccountOid) - min(AccountOid)))::bigint from dbo.Account)
order by AccountOid
limit 1;
