-- The latest due date billed on a contract (reversed invoices do not count: they were re-billed).
select max(DueDate) as due_date
from dbo.Invoice
where ContractOid = %(contract_oid)s and Status <> 'Reversed';
