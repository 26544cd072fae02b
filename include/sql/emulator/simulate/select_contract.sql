-- One contract with its customer's location, locked for the event that changes it.
select c.ContractOid, c.CustomerAccountOid, c.ScenarioOid, c.LineOfCreditOid, c.Status, c.IsBooked, c.BookedDate,
       c.CommencementDate, c.MaturityDate, c.TermMonths, c.PaymentFrequency, c.PaymentTiming, c.PaymentAmount,
       c.EquipmentCost, c.ResidualAmount, c.Rate, c.TerminationDate,
       a.City, a.State, a.PostalCode, a.Phone
from dbo.Contract c
join dbo.Account a on a.AccountOid = c.CustomerAccountOid
where c.ContractOid = %(contract_oid)s
for update of c;
