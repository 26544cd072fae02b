-- Closes a terminated contract's values: the balance is settled, only past-due amounts remain to pay.
update dbo.ContractValues v
set AsOfDate = %(as_of)s, PrincipalBalance = 0, PrincipalPaidToDate = c.EquipmentCost - c.ResidualAmount,
    RemainingPayments = 0, NextDueDate = null, NextDueAmount = 0, PayoffAmount = v.PastDueAmount
from dbo.Contract c
where c.ContractOid = v.ContractOid and v.ContractOid = %(contract_oid)s;
