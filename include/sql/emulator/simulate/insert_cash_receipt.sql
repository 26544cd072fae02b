-- Inserts one dbo.CashReceipt row; the stamp_row_version trigger sets RowVer and LastModifiedAt.
insert into dbo.CashReceipt (
    ReceiptOid, AccountOid, ContractOid, ReceivedDate, PostDate, Amount, Method, Status, ReferenceNumber
) values (
    %(ReceiptOid)s, %(AccountOid)s, %(ContractOid)s, %(ReceivedDate)s, %(PostDate)s, %(Amount)s, %(Method)s,
    %(Status)s, %(ReferenceNumber)s
);
