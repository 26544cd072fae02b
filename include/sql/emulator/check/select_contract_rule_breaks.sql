-- Contracts that break the booking rules, one row per broken rule: IsBooked follows Status, booked contracts
-- have ContractValues and unbooked ones none, operating leases have no schedule, the customer holds the
-- Customer role, receipts carry the contract's customer. Empty when the data is right.
select c.ContractOid, c.Status, c.IsBooked, rule.problem
from dbo.Contract c
join dbo.ContractScenario s on s.ScenarioOid = c.ScenarioOid
cross join lateral (
    values
        ('IsBooked does not follow Status',
         (c.Status in ('Commenced', 'FullyPaidOff', 'Terminated') and c.IsBooked <> 1)
         or (c.Status = 'Cancelled' and c.IsBooked <> 0)),
        ('booked without ContractValues',
         c.IsBooked = 1 and not exists (select 1 from dbo.ContractValues v where v.ContractOid = c.ContractOid)),
        ('unbooked with ContractValues',
         c.IsBooked = 0 and exists (select 1 from dbo.ContractValues v where v.ContractOid = c.ContractOid)),
        ('unbooked with amortization lines',
         c.IsBooked = 0 and exists (select 1 from dbo.AmortizationLine a where a.ContractOid = c.ContractOid)),
        ('operating lease with amortization lines',
         s.ProductType = 'OperatingLease'
         and exists (select 1 from dbo.AmortizationLine a where a.ContractOid = c.ContractOid)),
        ('customer without its Customer role',
         not exists (select 1 from dbo.ContractRole r
                     where r.ContractOid = c.ContractOid and r.AccountOid = c.CustomerAccountOid
                       and r.RoleType = 'Customer')),
        ('receipt not from the customer',
         exists (select 1 from dbo.CashReceipt r
                 where r.ContractOid = c.ContractOid and r.AccountOid <> c.CustomerAccountOid))
) as rule (problem, broken)
where rule.broken;
