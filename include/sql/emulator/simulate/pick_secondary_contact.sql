-- Picks a contact that is not its account's primary: the first one at or after a point (fraction 0-1) of the key range.
select ContactOid as oid
from dbo.AccountContact
where IsPrimary = 0
  and ContactOid >= (select floor(min(ContactOid) + %(fraction)s * (max(ContactOid) - min(ContactOid)))::bigint from dbo.AccountContact)
order by ContactOid
limit 1;
