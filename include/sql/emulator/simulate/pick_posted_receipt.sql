-- Picks a posted receipt: the first one at or after a point (fraction 0-1) of the key range.
select ReceiptOid as oid
from dbo.CashReceipt
where Status = 'Posted' and ContractOid is not null
  and ReceiptOid >= (select floor(min(ReceiptOid) + %(fraction)s * (max(ReceiptOid) - min(ReceiptOid)))::bigint from dbo.CashReceipt)
order by ReceiptOid
limit 1;
