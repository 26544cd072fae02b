-- Inserts one dbo.AccountContact row; the stamp_row_version trigger sets RowVer and LastModifiedAt.
insert into dbo.AccountContact (
    ContactOid, AccountOid, FirstName, LastName, Email, Phone, IsPrimary
) values (
    %(ContactOid)s, %(AccountOid)s, %(FirstName)s, %(LastName)s, %(Email)s, %(Phone)s, %(IsPrimary)s
);
