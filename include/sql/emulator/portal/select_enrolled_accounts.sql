-- The ASPIRE accounts at least one portal user is linked to.
select distinct account_oid
from portal.portal_user_account
order by account_oid;
