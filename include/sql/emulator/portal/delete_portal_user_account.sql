-- Removes every portal user's link to an ASPIRE account; returns the users that had one.
delete from portal.portal_user_account
where account_oid = %(account_oid)s
returning user_id;
