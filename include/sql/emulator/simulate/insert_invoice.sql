-- Inserts one dbo.Invoice row; the stamp_row_version trigger sets RowVer and LastModifiedAt.
insert into dbo.Invoice (
    InvoiceOid, InvoiceNumber, AccountOid, ContractOid, InvoiceDate, DueDate, Amount, Balance, Status
) values (
    %(InvoiceOid)s, %(InvoiceNumber)s, %(AccountOid)s, %(ContractOid)s, %(InvoiceDate)s, %(DueDate)s,
    %(Amount)s, %(Balance)s, %(Status)s
);
