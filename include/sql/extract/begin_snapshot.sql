-- The next reads of ASPIRE see one snapshot (Change Tracking's versions, CHANGETABLE and the keys present), so the
-- retention cleanup cannot remove changes between the minimum valid version and CHANGETABLE, as Microsoft advises.
-- SQL Server: SNAPSHOT isolation (ALLOW_SNAPSHOT_ISOLATION ON); the emulator: one REPEATABLE READ transaction.
{% if dialect == "mssql" -%}
SET TRANSACTION ISOLATION LEVEL SNAPSHOT
{%- else -%}
set transaction isolation level repeatable read
{%- endif %}
