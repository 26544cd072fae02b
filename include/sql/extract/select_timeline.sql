-- ASPIRE's identity and counter: the database (database_guid), its timeline (recovery_fork_guid: a restore or a
-- point-in-time failover starts a new one) and the newest row version used (@@DBTS). One tiny catalog read.
{% import "macros/aspire.sql" as aspire with context %}
select
    cast(s.database_guid as varchar(36)) as database_guid,
    cast(s.recovery_fork_guid as varchar(36)) as recovery_fork_guid,
    {{ aspire.dbts() }} as dbts
from sys.database_recovery_status as s
where s.database_id = db_id()
