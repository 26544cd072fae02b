-- A contract's invoices that have money applied, newest first: where a reversed receipt's money comes back from.
select InvoiceOid, Amount, Balance
from dbo.Invoice
where ContractOid = %(contract_oid)s and Status in ('Paid', 'PartiallyPaid') and Balance < Amount
order by DueDate desc, InvoiceOid desc
for update;
