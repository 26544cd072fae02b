-- The enrolment values of the portal's link table (read by value whatever the column's type: see
-- enrolment.enrolled_accounts), each with how many portal users it links, as arrays in one row: the values that are
-- plain digits without a leading zero, up to 18 of them (always a bigint), converted here; every other value as
-- text, for the sync to read or quarantine one by one.
with enrolment as (
    select pua.account_oid::text as value, count(distinct pua.user_id)::bigint as portal_users
    from portal.portal_user_account as pua
    group by pua.account_oid
),
read as materialized (
    select e.value, e.portal_users, coalesce(e.value ~ '^[1-9][0-9]{0,17}$', false) as plain
    from enrolment as e
)
select
    coalesce(array_agg(cast(r.value as bigint)) filter (where r.plain), '{}') as account_oids,
    coalesce(array_agg(r.portal_users) filter (where r.plain), '{}') as account_users,
    coalesce(array_agg(r.value) filter (where not r.plain), '{}') as other_values,
    coalesce(array_agg(r.portal_users) filter (where not r.plain), '{}') as other_users
from read as r
