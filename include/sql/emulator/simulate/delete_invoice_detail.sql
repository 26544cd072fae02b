-- Deletes one detail line of an invoice (a charge removed before the customer paid it).
delete from dbo.InvoiceDetail
where InvoiceDetailOid = %(invoice_detail_oid)s
returning InvoiceDetailOid;
