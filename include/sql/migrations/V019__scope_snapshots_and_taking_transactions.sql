-- What a scope knew, and which transaction took an account or contract in. `snapshot`: the portal's snapshot when a
-- scope was resolved; `others_snapshot`: for a customer scope, the one it knows the other customers by (its base's,
-- the newest scope of everyone it builds on). `taken_xid`: the transaction of the load that took an account or
-- contract in (or, for a customer's full sync, last found it in its customers' scope). A customer scope keeps what
-- a transaction its others_snapshot does not see took in: that is beyond what it knows of the others. Null for
-- what came before this migration: seen by every snapshot.
alter table aspire_sync.scope_resolution add column snapshot pg_snapshot, add column others_snapshot pg_snapshot;
alter table aspire_sync.entity_account_scope add column taken_xid xid8;
alter table aspire_sync.entity_contract_scope add column taken_xid xid8;
