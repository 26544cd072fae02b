-- Links a portal user to the ASPIRE account whose data the user may see.
insert into portal.portal_user_account (user_id, account_oid)
values (%(user_id)s, %(account_oid)s);
