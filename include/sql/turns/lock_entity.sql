-- Serializes watermark-moving loads of one entity across workers, for the rest of the transaction: a row lock on
-- aspire_sync.sync_lock (see V006), which only the sync's role can take. The row exists (insert_sync_lock.sql).
select l.name
from aspire_sync.sync_lock as l
where l.name = 'watermark:' || %(entity)s
for update
