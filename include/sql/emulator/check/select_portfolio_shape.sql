-- The portfolio's shape as percentages, to compare a seed with the design's figures (past due as of %(as_of)s).
with contract as (
    select c.*, s.ProductType, s.PurchaseOption
    from dbo.Contract c
    join dbo.ContractScenario s on s.ScenarioOid = c.ScenarioOid
),

equipment as (
    select ContractOid, count(*) as item_count
    from dbo.Equipment
    group by ContractOid
),

customer as (
    select distinct CustomerAccountOid as AccountOid
    from dbo.Contract
)

select 'one_dollar_capital_lease' as metric, 100.0 * avg((PurchaseOption = 'OneDollar')::int) as pct from contract
union all select 'loan', 100.0 * avg((ProductType = 'Loan')::int) from contract
union all select 'fmv_operating_lease', 100.0 * avg((PurchaseOption = 'FMV')::int) from contract
union all select 'fixed_purchase_option', 100.0 * avg((PurchaseOption = 'FixedPurchaseOption')::int) from contract
union all select 'trac', 100.0 * avg((PurchaseOption = 'TRAC')::int) from contract
union all select 'monthly', 100.0 * avg((PaymentFrequency = 'Monthly')::int) from contract
union all select 'term_36_or_60', 100.0 * avg((TermMonths in (36, 60))::int) from contract
union all select 'unbooked', 100.0 * avg((IsBooked = 0)::int) from contract
union all select 'invoice_paid', 100.0 * avg((Status = 'Paid')::int) from dbo.Invoice
union all select 'invoice_past_due', 100.0 * avg((Status in ('Open', 'PartiallyPaid') and DueDate < %(as_of)s)::int)
    from dbo.Invoice
union all select 'invoice_reversed', 100.0 * avg((Status = 'Reversed')::int) from dbo.Invoice
union all select 'receipt_ach', 100.0 * avg((Method = 'ACH')::int) from dbo.CashReceipt
union all select 'receipt_check_or_lockbox', 100.0 * avg((Method in ('Check', 'Lockbox'))::int) from dbo.CashReceipt
union all select 'receipt_webeft', 100.0 * avg((Method = 'WebEFT')::int) from dbo.CashReceipt
union all select 'equipment_1_item', 100.0 * avg((item_count = 1)::int) from equipment
union all select 'equipment_2_to_5_items', 100.0 * avg((item_count between 2 and 5)::int) from equipment
union all select 'equipment_6_to_50_items', 100.0 * avg((item_count between 6 and 50)::int) from equipment
union all select 'customer_with_line_of_credit',
    100.0 * avg((exists (select 1 from dbo.LineOfCredit l where l.AccountOid = customer.AccountOid))::int) from customer
union all select 'contract_with_guarantor',
    100.0 * avg((exists (select 1 from dbo.ContractRole r
                         where r.ContractOid = contract.ContractOid and r.RoleType = 'Guarantor'))::int) from contract;
