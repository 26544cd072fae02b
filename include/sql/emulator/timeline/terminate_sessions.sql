-- A restore needs the database to itself, as SQL Server's RESTORE DATABASE does: every other session ends.
select count(pg_terminate_backend(a.pid))
from pg_stat_activity as a
where a.datname = current_database() and a.pid <> pg_backend_pid()
