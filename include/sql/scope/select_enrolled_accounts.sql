-- The enrolment values of the portal's link table (read by value whatever the column's type: see
-- enrolment.enrolled_accounts), each with how many portal users it links, as arrays in one row: the values that are
-- plain digits without a leading zero, up to 18 of them (always a bigint), or a positive value of an integer column,
-- converted here; every other value as text, for the sync to read or quarantine one by one.
with enrolment as (
    select
        pua.account_oid::text as value,
        count(distinct pua.user_id)::bigint as portal_users,
        pg_typeof(pua.account_oid) in ('bigint'::regtype, 'integer'::regtype, 'smallint'::regtype) as integral
    from portal.portal_user_account as pua
    group by pua.account_oid
),
read as materialized (
    -- an integer column's text is digits with at most a leading minus: the regular expression (a third of the
    -- statement's time at 12,500 accounts) is needed only for a column of another type
    select
        e.value,
        e.portal_users,
        coalesce(
            case
                when e.integral then left(e.value, 1) not in ('-', '0')
                else e.value ~ '^[1-9][0-9]{0,17}$'
            end,
            false
        ) as plain
    from enrolment as e
)
select
    coalesce(array_agg(cast(r.value as bigint)) filter (where r.plain), '{}') as account_oids,
    coalesce(array_agg(r.portal_users) filter (where r.plain), '{}') as account_users,
    coalesce(array_agg(r.value) filter (where not r.plain), '{}') as other_values,
    coalesce(array_agg(r.portal_users) filter (where not r.plain), '{}') as other_users
from read as r
