-- Whether one ASPIRE account is linked to at least one portal user (the link table read by value: see
-- macros/sync.sql).
{% import "macros/sync.sql" as sync %}
select exists (
    select 1
    from portal.portal_user_account as pua
    where {{ sync.account_oid_of("pua.account_oid") }} = %(customer_id)s
) as is_enrolled
