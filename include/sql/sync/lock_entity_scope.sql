-- Orders a load against the other loads of the same entity: a full load over every enrolled customer (the daily
-- run) holds it exclusively, because its delete of everything it did not read must not meet rows of a customer
-- enrolled after it read the enrolled list; every other load shares it. Held to the end of the transaction.
select {% if exclusive %}pg_advisory_xact_lock{% else %}pg_advisory_xact_lock_shared{% endif %}(
    hashtext('aspire_sync.entity_scope'), hashtext(%(entity)s)
)
