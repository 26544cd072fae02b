-- Inserts one dbo.InvoiceDetail row; the stamp_row_version trigger sets RowVer and LastModifiedAt.
insert into dbo.InvoiceDetail (
    InvoiceDetailOid, InvoiceOid, ContractOid, TransactionCode, Amount, Balance
) values (
    %(InvoiceDetailOid)s, %(InvoiceOid)s, %(ContractOid)s, %(TransactionCode)s, %(Amount)s, %(Balance)s
);
