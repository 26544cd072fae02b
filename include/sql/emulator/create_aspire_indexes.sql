-- Indexes ASPIRE has for the sync's reads: RowVer (change detection), LastModifiedAt (backfills), and the
-- foreign keys the customer scope follows. Created after the bulk seed, so the seed loads fast.
create index if not exists ix_account_rowver on dbo.Account (RowVer);
create index if not exists ix_accountcontact_rowver on dbo.AccountContact (RowVer);
create index if not exists ix_contractscenario_rowver on dbo.ContractScenario (RowVer);
create index if not exists ix_lineofcredit_rowver on dbo.LineOfCredit (RowVer);
create index if not exists ix_contract_rowver on dbo.Contract (RowVer);
create index if not exists ix_contractrole_rowver on dbo.ContractRole (RowVer);
create index if not exists ix_invoice_rowver on dbo.Invoice (RowVer);
create index if not exists ix_invoicedetail_rowver on dbo.InvoiceDetail (RowVer);
create index if not exists ix_cashreceipt_rowver on dbo.CashReceipt (RowVer);
create index if not exists ix_contractvalues_rowver on dbo.ContractValues (RowVer);
create index if not exists ix_amortizationline_rowver on dbo.AmortizationLine (RowVer);
create index if not exists ix_equipment_rowver on dbo.Equipment (RowVer);

create index if not exists ix_account_lastmodifiedat on dbo.Account (LastModifiedAt);
create index if not exists ix_accountcontact_lastmodifiedat on dbo.AccountContact (LastModifiedAt);
create index if not exists ix_contractscenario_lastmodifiedat on dbo.ContractScenario (LastModifiedAt);
create index if not exists ix_lineofcredit_lastmodifiedat on dbo.LineOfCredit (LastModifiedAt);
create index if not exists ix_contract_lastmodifiedat on dbo.Contract (LastModifiedAt);
create index if not exists ix_contractrole_lastmodifiedat on dbo.ContractRole (LastModifiedAt);
create index if not exists ix_invoice_lastmodifiedat on dbo.Invoice (LastModifiedAt);
create index if not exists ix_invoicedetail_lastmodifiedat on dbo.InvoiceDetail (LastModifiedAt);
create index if not exists ix_cashreceipt_lastmodifiedat on dbo.CashReceipt (LastModifiedAt);
create index if not exists ix_contractvalues_lastmodifiedat on dbo.ContractValues (LastModifiedAt);
create index if not exists ix_amortizationline_lastmodifiedat on dbo.AmortizationLine (LastModifiedAt);
create index if not exists ix_equipment_lastmodifiedat on dbo.Equipment (LastModifiedAt);

create index if not exists ix_accountcontact_account on dbo.AccountContact (AccountOid);
create index if not exists ix_lineofcredit_account on dbo.LineOfCredit (AccountOid);
create index if not exists ix_contract_customer on dbo.Contract (CustomerAccountOid);
create index if not exists ix_contractrole_contract on dbo.ContractRole (ContractOid);
create index if not exists ix_contractrole_account on dbo.ContractRole (AccountOid, RoleType);
create index if not exists ix_invoice_account on dbo.Invoice (AccountOid);
create index if not exists ix_invoice_contract on dbo.Invoice (ContractOid);
create index if not exists ix_invoicedetail_invoice on dbo.InvoiceDetail (InvoiceOid);
create index if not exists ix_invoicedetail_contract on dbo.InvoiceDetail (ContractOid);
create index if not exists ix_cashreceipt_account on dbo.CashReceipt (AccountOid);
create index if not exists ix_cashreceipt_contract on dbo.CashReceipt (ContractOid);
create index if not exists ix_equipment_contract on dbo.Equipment (ContractOid);
analyze;
