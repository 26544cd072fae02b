-- Removes a contact from its account.
delete from dbo.AccountContact
where ContactOid = %(oid)s
returning ContactOid;
