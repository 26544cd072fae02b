-- Rows per emulated ASPIRE table, for the emulator's stats and its log.
select 'Account' as table_name, count(*) as row_count from dbo.Account
union all select 'AccountContact', count(*) from dbo.AccountContact
union all select 'ContractScenario', count(*) from dbo.ContractScenario
union all select 'LineOfCredit', count(*) from dbo.LineOfCredit
union all select 'Contract', count(*) from dbo.Contract
union all select 'ContractRole', count(*) from dbo.ContractRole
union all select 'Equipment', count(*) from dbo.Equipment
union all select 'AmortizationLine', count(*) from dbo.AmortizationLine
union all select 'Invoice', count(*) from dbo.Invoice
union all select 'InvoiceDetail', count(*) from dbo.InvoiceDetail
union all select 'CashReceipt', count(*) from dbo.CashReceipt
union all select 'ContractValues', count(*) from dbo.ContractValues;
