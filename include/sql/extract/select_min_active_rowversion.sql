-- The read bound, and a sample of ASPIRE's clock: every row version below high_rowver belongs to a finished
-- transaction, so no row below it can appear later; every transaction committed by sampled_at (UTC) holds row
-- versions at most dbts (@@DBTS). The clock is read before the counter, so the sample never claims too much.
{% import "macros/aspire.sql" as aspire with context %}
select
    cast(min_active_rowversion() as bigint) as high_rowver,
    {{ aspire.utc_now() }} as sampled_at,
    {{ aspire.dbts() }} as dbts
