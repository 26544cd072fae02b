-- Whether one ASPIRE account is linked to at least one portal user.
select exists (
    select 1
    from portal.portal_user_account as pua
    where pua.account_oid = %(customer_id)s
) as is_enrolled
