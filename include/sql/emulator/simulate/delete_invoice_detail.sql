-- Deletes one detail line of an invoice (a charge removed before the customer paid it).
delete from dbo.InvoiceDetail
where InvoiceDetailOid = %(oid)s
returning InvoiceDetailOid;
