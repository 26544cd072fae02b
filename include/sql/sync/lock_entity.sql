-- Serializes watermark-moving loads of one entity across workers, for the rest of the transaction.
select pg_advisory_xact_lock(hashtext('aspire_sync.watermark'), hashtext(%(entity)s))
