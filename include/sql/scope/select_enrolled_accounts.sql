-- The enrolment values of the portal's link table, as text (read by value whatever the column's type: see
-- scope.enrolled_accounts), each with how many portal users it links.
select pua.account_oid::text as account_oid, count(distinct pua.user_id) as portal_users
from portal.portal_user_account as pua
group by pua.account_oid
order by 1
