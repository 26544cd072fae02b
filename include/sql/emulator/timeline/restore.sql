-- Restores ASPIRE from backup_<name>: its rows as they were, a new recovery fork, the counter set back.
select dbo.restore_database(%(name)s)
