-- One cash receipt, locked for the event that changes it.
select ReceiptOid, AccountOid, ContractOid, Amount, Status
from dbo.CashReceipt
where ReceiptOid = %(receipt_oid)s
for update;
