-- Invoices that disagree with their details or their contract: Amount and Balance must be the sums of 1-3
-- details on the same contract, the invoice billed to the contract's customer, and Balance must fit Status.
-- Empty when the data is right.
with detail as (
    select d.InvoiceOid,
           sum(d.Amount) as amount,
           sum(d.Balance) as balance,
           count(*) as line_count,
           bool_and(d.ContractOid = i.ContractOid) as same_contract
    from dbo.InvoiceDetail d
    join dbo.Invoice i on i.InvoiceOid = d.InvoiceOid
    group by d.InvoiceOid
)

select i.InvoiceOid, i.Status, i.Amount, i.Balance, detail.amount as detail_amount, detail.balance as detail_balance
from dbo.Invoice i
join dbo.Contract c on c.ContractOid = i.ContractOid
left join detail on detail.InvoiceOid = i.InvoiceOid
where detail.InvoiceOid is null
   or detail.line_count > 3
   or detail.amount <> i.Amount
   or detail.balance <> i.Balance
   or not detail.same_contract
   or i.AccountOid <> c.CustomerAccountOid
   or (i.Status in ('Paid', 'Reversed') and i.Balance <> 0)
   or (i.Status = 'Open' and i.Balance <> i.Amount)
   or (i.Status = 'PartiallyPaid' and not (i.Balance > 0 and i.Balance < i.Amount));
