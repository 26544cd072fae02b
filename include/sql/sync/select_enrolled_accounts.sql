-- The enrolled customers: every ASPIRE account linked to at least one portal user.
select distinct pua.account_oid
from portal.portal_user_account as pua
order by pua.account_oid
