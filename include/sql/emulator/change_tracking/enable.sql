-- ALTER TABLE … ENABLE CHANGE_TRACKING on the tables given (with their key columns); the current version.
select dbo.enable_change_tracking(%(tables)s, %(keys)s)
