-- ASPIRE's identity and counter as a session opened now sees them.
select cast(database_guid as text), cast(recovery_fork_guid as text), dbo.dbts() from sys.database_recovery_status
