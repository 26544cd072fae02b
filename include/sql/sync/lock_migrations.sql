-- Lets one migrator at a time through; a second DAG run starting at once waits here, then finds nothing to do.
select pg_advisory_xact_lock(hashtext('aspire_sync.schema_migration'))
