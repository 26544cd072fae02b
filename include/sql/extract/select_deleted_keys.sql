-- The keys of one table's rows deleted after the entity's last Change Tracking version, up to the current one
-- (CHANGETABLE gives each changed row once, with its net operation: D when it is gone). Keys only.
{% import "macros/aspire.sql" as aspire with context %}
select {{ aspire.ct_key(source_key) }} as {{ key }}
from {{ aspire.ct_changes(source_table, "%(last_version)s") }}
where ct.SYS_CHANGE_OPERATION = 'D'
  and ct.SYS_CHANGE_VERSION <= %(current_version)s
