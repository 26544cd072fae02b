-- Moves every id sequence past the largest id in its table, so new rows never collide with seeded ones.
select setval('dbo.seq_contract_scenario', coalesce((select max(ScenarioOid) from dbo.ContractScenario), 0) + 1, false);
select setval('dbo.seq_account', coalesce((select max(AccountOid) from dbo.Account), 0) + 1, false);
select setval('dbo.seq_account_contact', coalesce((select max(ContactOid) from dbo.AccountContact), 0) + 1, false);
select setval('dbo.seq_line_of_credit', coalesce((select max(LineOfCreditOid) from dbo.LineOfCredit), 0) + 1, false);
select setval('dbo.seq_contract', coalesce((select max(ContractOid) from dbo.Contract), 0) + 1, false);
select setval('dbo.seq_contract_role', coalesce((select max(ContractRoleOid) from dbo.ContractRole), 0) + 1, false);
select setval('dbo.seq_equipment', coalesce((select max(EquipmentOid) from dbo.Equipment), 0) + 1, false);
select setval('dbo.seq_invoice', coalesce((select max(InvoiceOid) from dbo.Invoice), 0) + 1, false);
select setval('dbo.seq_invoice_detail', coalesce((select max(InvoiceDetailOid) from dbo.InvoiceDetail), 0) + 1, false);
select setval('dbo.seq_cash_receipt', coalesce((select max(ReceiptOid) from dbo.CashReceipt), 0) + 1, false);
