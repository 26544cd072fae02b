-- Books a contract: it commences on its booking date with its final payment amount.
update dbo.Contract
set IsBooked = 1, Status = 'Commenced', BookedDate = %(booked_date)s, CommencementDate = %(commencement_date)s,
    MaturityDate = %(maturity_date)s, PaymentAmount = %(payment_amount)s
where ContractOid = %(contract_oid)s;
