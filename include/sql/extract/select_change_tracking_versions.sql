-- Change Tracking's versions for one table: the current one (every change at or below it has committed) and the
-- table's minimum valid version (a reader whose last version is below it missed changes the cleanup removed; null
-- when Change Tracking is not enabled on the table).
{% import "macros/aspire.sql" as aspire with context %}
select
    {{ aspire.ct_current_version() }} as current_version,
    {{ aspire.ct_min_valid_version(source_table) }} as min_valid_version
