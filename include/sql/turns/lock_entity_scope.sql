-- Orders a load against the other loads of the same entity: a full load over every enrolled customer (the daily
-- run) holds it exclusively, because its delete of everything it did not read must not meet rows of a customer
-- enrolled after it read the enrolled list; every other load shares it. Held to the end of the transaction; a
-- row lock on aspire_sync.sync_lock (see V006), which only the sync's role can take.
select l.name
from aspire_sync.sync_lock as l
where l.name = 'entity_scope:' || %(entity)s
for {% if exclusive %}update{% else %}share{% endif %}
