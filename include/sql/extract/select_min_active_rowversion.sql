-- The read bound: every row version below it belongs to a finished transaction, so no row below it can appear later.
select cast(min_active_rowversion() as bigint) as high_rowver
