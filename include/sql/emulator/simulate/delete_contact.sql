-- Removes a contact from its account.
delete from dbo.AccountContact
where ContactOid = %(contact_oid)s
returning ContactOid;
