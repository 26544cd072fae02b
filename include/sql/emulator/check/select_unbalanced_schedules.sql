-- Contracts whose amortization schedule does not balance to the cent: every line must have
-- Payment = Principal + Interest and EndBalance = BeginBalance - Principal, lines numbered 1..n without gaps,
-- principals summing to EquipmentCost - ResidualAmount and the last line ending at ResidualAmount.
-- Empty when the data is right.
with schedule as (
    select ContractOid,
           sum(Principal) as principal,
           count(*) as line_count,
           max("LineNo") as last_line_no,
           count(*) filter (where Payment <> Principal + Interest or EndBalance <> BeginBalance - Principal)
               as broken_lines
    from dbo.AmortizationLine
    group by ContractOid
),

last_line as (
    select a.ContractOid, a.EndBalance
    from dbo.AmortizationLine a
    join schedule s on s.ContractOid = a.ContractOid and s.last_line_no = a."LineNo"
)

select c.ContractOid, c.EquipmentCost, c.ResidualAmount, s.principal, l.EndBalance, s.line_count, s.broken_lines
from dbo.Contract c
join schedule s on s.ContractOid = c.ContractOid
join last_line l on l.ContractOid = c.ContractOid
where s.principal <> c.EquipmentCost - c.ResidualAmount
   or l.EndBalance <> c.ResidualAmount
   or s.line_count <> s.last_line_no
   or s.broken_lines > 0;
