-- One invoice, locked for the event that changes it.
select InvoiceOid, AccountOid, ContractOid, DueDate, Amount, Balance, Status
from dbo.Invoice
where InvoiceOid = %(invoice_oid)s
for update;
