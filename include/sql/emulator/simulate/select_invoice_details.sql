-- An invoice's detail lines in the order payments are applied to them, locked for the event.
select InvoiceDetailOid, Amount, Balance
from dbo.InvoiceDetail
where InvoiceOid = %(invoice_oid)s
order by InvoiceDetailOid
for update;
