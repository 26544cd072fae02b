-- Completes a load's run_log row (written as running when it started): what it read and wrote, its bounds and how it
-- ended.
update aspire_sync.run_log as l
set low_rowver = %(low_rowver)s,
    high_rowver = %(high_rowver)s,
    data_as_of = %(data_as_of)s,
    finished_at = clock_timestamp(),
    rows_read = %(rows_read)s,
    rows_inserted = %(rows_inserted)s,
    rows_updated = %(rows_updated)s,
    rows_deleted = %(rows_deleted)s,
    status = %(status)s,
    error = %(error)s
where l.run_log_id = %(run_log_id)s
