-- Terminates a booked contract early; it stays booked (the portal shows it as closed).
update dbo.Contract
set Status = 'Terminated', TerminationDate = %(termination_date)s
where ContractOid = %(contract_oid)s;
