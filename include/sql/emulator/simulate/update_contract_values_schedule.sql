-- Follows a restructure in a contract's values: payments left and the next one due.
update dbo.ContractValues
set AsOfDate = %(as_of)s, RemainingPayments = %(remaining_payments)s, NextDueDate = %(next_due_date)s,
    NextDueAmount = %(next_due_amount)s
where ContractOid = %(contract_oid)s;
