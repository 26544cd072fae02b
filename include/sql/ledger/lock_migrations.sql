-- Lets one migrator at a time through; a second DAG run starting at once waits here, then finds nothing to do.
-- A table lock on the ledger: only a role that may write it (the sync's) can take a mode that conflicts with this
-- one, so no reader of the portal can hold migrations back (an advisory lock anyone could take).
lock table aspire_sync.schema_migration in share row exclusive mode
