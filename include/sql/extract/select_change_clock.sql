-- ASPIRE's change clock, as the change watcher reads it every few seconds: the read bound (MIN_ACTIVE_ROWVERSION()),
-- capped by one past the newest committed row version of the 15-minute tables (one seek each on their RowVer
-- indexes, the same the incremental reads through). It moves when a transaction that wrote one of those tables ends,
-- and only then: a transaction still open holds the bound back, and writes elsewhere in ASPIRE (the daily tables,
-- or, on the emulator, other databases of the server) move neither part past the cap. A delete takes no row version:
-- with Change Tracking (the DBA enabled it) its current version moves for it, so it is read too (0 without).
{% import "macros/aspire.sql" as aspire with context %}
select
    case when bound < newest + 1 then bound else newest + 1 end as change_clock,
    bound as read_bound,
    newest as newest_rowver,
    tracked as tracked_version
from (
    select
        cast(min_active_rowversion() as bigint) as bound,
        coalesce((
            select max(v) from (values
                {% for table in tables -%}
                ((select {{ aspire.row_version("max(x.RowVer)") }} from {{ table }} as x)){{ "," if not loop.last }}
                {% endfor -%}
            ) as t (v)
        ), 0) as newest,
        coalesce({{ aspire.ct_current_version() }}, 0) as tracked
) as clock
