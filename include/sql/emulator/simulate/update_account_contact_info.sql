-- Changes how an account is reached (the customer called in new details).
update dbo.Account
set Email = %(email)s, Phone = %(phone)s, AddressLine1 = %(address_line1)s
where AccountOid = %(account_oid)s
returning AccountOid;
