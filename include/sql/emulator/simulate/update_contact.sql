-- Changes a contact's email and phone.
update dbo.AccountContact
set Email = %(email)s, Phone = %(phone)s
where ContactOid = %(contact_oid)s
returning ContactOid;
