-- The row the first check of a deployment locks (a check locks it before it looks at ASPIRE); nothing if it exists.
insert into aspire_sync.aspire_timeline (id) values (1)
on conflict (id) do nothing
