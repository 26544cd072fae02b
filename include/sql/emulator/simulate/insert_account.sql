-- Inserts one dbo.Account row; the stamp_row_version trigger sets RowVer and LastModifiedAt.
insert into dbo.Account (
    AccountOid, AccountNumber, Name, DbaName, IsBusiness, Email, Phone, AddressLine1, AddressLine2, City,
    State, PostalCode, Status
) values (
    %(AccountOid)s, %(AccountNumber)s, %(Name)s, %(DbaName)s, %(IsBusiness)s, %(Email)s, %(Phone)s,
    %(AddressLine1)s, %(AddressLine2)s, %(City)s, %(State)s, %(PostalCode)s, %(Status)s
);
