-- Creates a portal user whose email is made from its new id (user<id>@example.com, so unique); returns the id.
with next_user as (
    select nextval(pg_get_serial_sequence('portal.portal_user', 'user_id')) as user_id
)
insert into portal.portal_user (user_id, email)
overriding system value
select user_id, 'user' || user_id || '@example.com' from next_user
returning user_id;
