-- Sets the open balance of one invoice detail line.
update dbo.InvoiceDetail
set Balance = %(balance)s
where InvoiceDetailOid = %(invoice_detail_oid)s;
