-- Clears the open balances of a reversed invoice's details; returns the details it changed.
update dbo.InvoiceDetail
set Balance = 0
where InvoiceOid = %(invoice_oid)s and Balance <> 0
returning InvoiceDetailOid;
