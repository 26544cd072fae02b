-- The scheduled payment of a contract on a due date, if its amortization schedule has one.
select Payment
from dbo.AmortizationLine
where ContractOid = %(contract_oid)s and DueDate = %(due_date)s;
