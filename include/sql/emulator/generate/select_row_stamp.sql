-- What the stamp_row_version trigger would write in this transaction: its id as RowVer, and ASPIRE local time.
select pg_current_xact_id()::text::bigint - dbo.rowversion_offset() as rowver, dbo.aspire_local_now() as lastmodifiedat;
