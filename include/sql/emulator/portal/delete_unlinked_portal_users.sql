-- Deletes the given portal users that no longer see any account.
delete from portal.portal_user u
where u.user_id = any(%(user_ids)s)
  and not exists (select 1 from portal.portal_user_account l where l.user_id = u.user_id);
