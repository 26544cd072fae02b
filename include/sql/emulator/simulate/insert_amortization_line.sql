-- Inserts one dbo.AmortizationLine row; the stamp_row_version trigger sets RowVer and LastModifiedAt.
insert into dbo.AmortizationLine (
    ContractOid, "LineNo", DueDate, Payment, Principal, Interest, BeginBalance, EndBalance
) values (
    %(ContractOid)s, %(LineNo)s, %(DueDate)s, %(Payment)s, %(Principal)s, %(Interest)s, %(BeginBalance)s,
    %(EndBalance)s
);
