-- What ASPIRE's scope tables look like now: each one's row count and newest row version (one aggregate, so one scan
-- of an index holding RowVer yields both: see docs/adr/0011), and ASPIRE's timeline (a restore starts a new one and
-- sets row versions back, so counts and versions of another timeline say nothing). Every insert or update gives a
-- row a new row version at or above the read bound of the moment, and a delete lowers the count, so a table whose
-- newest row version is still below an earlier read bound and whose count is unchanged holds exactly the rows it
-- held then (see plugins/aspire_portal/scope.py).
{% import "macros/aspire.sql" as aspire with context %}
select
    f.table_name,
    f.row_count,
    f.newest_rowver,
    cast(s.database_guid as varchar(36)) as database_guid,
    cast(s.recovery_fork_guid as varchar(36)) as recovery_fork_guid
from (
    {% for table in ["Account", "Contract", "ContractRole"] -%}
    select
        '{{ table }}' as table_name,
        cast(count(*) as bigint) as row_count,
        {{ aspire.row_version("max(t.RowVer)") }} as newest_rowver
    from dbo.{{ table }} as t
    {% if not loop.last %}union all
    {% endif -%}
    {% endfor %}
) as f
cross join sys.database_recovery_status as s
where s.database_id = db_id()
