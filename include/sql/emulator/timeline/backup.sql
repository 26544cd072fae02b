-- A backup of ASPIRE (every dbo table and @@DBTS) into schema backup_<name>; returns the @@DBTS it kept.
select dbo.backup_database(%(name)s)
