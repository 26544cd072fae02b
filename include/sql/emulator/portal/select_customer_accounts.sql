-- ASPIRE's customer accounts (holders of a Customer role), and whether one of those contracts is booked:
-- the accounts the portal can enrol, the booked ones first.
select r.AccountOid as account_oid, max(c.IsBooked) = 1 as has_booked_contract
from dbo.ContractRole r
join dbo.Contract c on c.ContractOid = r.ContractOid
where r.RoleType = 'Customer'
group by r.AccountOid
order by r.AccountOid;
