-- Picks an invoice with a balance to pay: the first one at or after a point (fraction 0-1) of the key range.
select InvoiceOid as oid
from dbo.Invoice
where Status in ('Open', 'PartiallyPaid') and Balance > 0
  and InvoiceOid >= (select floor(min(InvoiceOid) + %(fraction)s * (max(InvoiceOid) - min(InvoiceOid)))::bigint from dbo.Invoice)
order by InvoiceOid
limit 1;
