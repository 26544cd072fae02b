-- Picks an invoice detail line: the first one at or after a point (fraction 0-1) of the key range.
select InvoiceDetailOid as oid
from dbo.InvoiceDetail
where InvoiceDetailOid >= (select floor(min(InvoiceDetailOid) + %(fraction)s * (max(InvoiceDetailOid) - min(InvoiceDetailOid)))::bigint from dbo.InvoiceDetail)
order by InvoiceDetailOid
limit 1;
