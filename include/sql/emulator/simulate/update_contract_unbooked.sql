-- Un-books a contract (a booking reversed): it is no longer booked, so it leaves every portal scope.
update dbo.Contract set IsBooked = 0
where ContractOid = %(contract_oid)s;
