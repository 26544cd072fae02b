-- Deletes a receipt outright (keyed in by mistake and removed by an operator, not reversed).
delete from dbo.CashReceipt
where ReceiptOid = %(oid)s
returning ReceiptOid;
