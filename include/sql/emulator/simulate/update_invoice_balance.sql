-- Sets an invoice's open balance and the status that follows from it.
update dbo.Invoice
set Balance = %(balance)s, Status = %(status)s
where InvoiceOid = %(invoice_oid)s;
