-- Writes one amortization line of a restructured schedule: inserted if new, updated only if it changed.
insert into dbo.AmortizationLine (
    ContractOid, "LineNo", DueDate, Payment, Principal, Interest, BeginBalance, EndBalance
) values (
    %(ContractOid)s, %(LineNo)s, %(DueDate)s, %(Payment)s, %(Principal)s, %(Interest)s, %(BeginBalance)s,
    %(EndBalance)s
)
on conflict (ContractOid, "LineNo") do update
set DueDate = excluded.DueDate, Payment = excluded.Payment, Principal = excluded.Principal,
    Interest = excluded.Interest, BeginBalance = excluded.BeginBalance, EndBalance = excluded.EndBalance
where (dbo.AmortizationLine.DueDate, dbo.AmortizationLine.Payment, dbo.AmortizationLine.Principal,
       dbo.AmortizationLine.Interest, dbo.AmortizationLine.BeginBalance, dbo.AmortizationLine.EndBalance)
      is distinct from
      (excluded.DueDate, excluded.Payment, excluded.Principal, excluded.Interest, excluded.BeginBalance,
       excluded.EndBalance);
