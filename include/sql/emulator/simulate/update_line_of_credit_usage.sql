-- Draws on (positive delta) or pays down (negative) a line of credit, within zero and the approved amount.
update dbo.LineOfCredit
set UsedAmount = least(greatest(UsedAmount + %(delta)s, 0), ApprovedAmount),
    AvailableAmount = ApprovedAmount - least(greatest(UsedAmount + %(delta)s, 0), ApprovedAmount)
where LineOfCreditOid = %(line_of_credit_oid)s
returning LineOfCreditOid;
