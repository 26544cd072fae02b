-- Reverses an invoice: nothing is owed on it any more.
update dbo.Invoice
set Status = 'Reversed', Balance = 0
where InvoiceOid = %(invoice_oid)s;
