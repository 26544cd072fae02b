-- Writes a contract's current values (principal, interest, next and past due, payoff), new or replaced.
insert into dbo.ContractValues (
    ContractOid, AsOfDate, PrincipalBalance, InterestRate, PrincipalPaidToDate, InterestPaidToDate,
    RemainingPayments, NextDueDate, NextDueAmount, PastDueAmount, DaysPastDue, PayoffAmount
) values (
    %(ContractOid)s, %(AsOfDate)s, %(PrincipalBalance)s, %(InterestRate)s, %(PrincipalPaidToDate)s,
    %(InterestPaidToDate)s, %(RemainingPayments)s, %(NextDueDate)s, %(NextDueAmount)s, %(PastDueAmount)s,
    %(DaysPastDue)s, %(PayoffAmount)s
)
on conflict (ContractOid) do update
set AsOfDate = excluded.AsOfDate, PrincipalBalance = excluded.PrincipalBalance,
    InterestRate = excluded.InterestRate, PrincipalPaidToDate = excluded.PrincipalPaidToDate,
    InterestPaidToDate = excluded.InterestPaidToDate, RemainingPayments = excluded.RemainingPayments,
    NextDueDate = excluded.NextDueDate, NextDueAmount = excluded.NextDueAmount,
    PastDueAmount = excluded.PastDueAmount, DaysPastDue = excluded.DaysPastDue, PayoffAmount = excluded.PayoffAmount;
