-- Sets a cash receipt's status (e.g. Reversed).
update dbo.CashReceipt
set Status = %(status)s
where ReceiptOid = %(receipt_oid)s;
