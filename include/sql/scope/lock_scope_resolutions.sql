-- Serializes the writers of resolved scopes with the forgetting of old ones (delete_old_scope_resolutions.sql):
-- a resolution that shares another's accounts and contracts must not meet their deletion. Held to the end of the
-- transaction; a row lock on aspire_sync.sync_lock (see V006, V017).
select l.name
from aspire_sync.sync_lock as l
where l.name = 'scope_resolution'
for update
