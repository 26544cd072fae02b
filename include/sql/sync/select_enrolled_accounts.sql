-- The enrolled customers: every ASPIRE account linked to at least one portal user, with how many.
select pua.account_oid, count(distinct pua.user_id) as portal_users
from portal.portal_user_account as pua
group by pua.account_oid
order by pua.account_oid
