-- Sets a restructured contract's new term, maturity and payment.
update dbo.Contract
set TermMonths = %(term_months)s, MaturityDate = %(maturity_date)s, PaymentAmount = %(payment_amount)s
where ContractOid = %(contract_oid)s;
