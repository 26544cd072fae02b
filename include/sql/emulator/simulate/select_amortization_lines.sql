-- A contract's amortization schedule in order, locked for a restructure.
select "LineNo", DueDate, Payment, Principal, Interest, BeginBalance, EndBalance
from dbo.AmortizationLine
where ContractOid = %(contract_oid)s
order by "LineNo"
for update;
