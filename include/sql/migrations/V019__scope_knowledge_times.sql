-- When a scope's view of the other customers was read: a scope of everyone's own resolution; a customer scope's
-- base (the newest scope of everyone it builds on), which it knows the others by. Null for the scopes resolved
-- before this column: their own resolution.
alter table aspire_sync.scope_resolution add column others_known_at timestamptz;

-- What an entity holds gets two times: `since`, the resolution of the scope that took it in (or last found it
-- in scope), and `taken_at`, when that load committed. A scope of everyone keeps what was taken in since its own
-- resolution (a scope newer than it saw it); a customer scope, what was committed since its base was resolved (it
-- knows the others only as the base did). Until now `since` was the commit: it is both for the rows held so far.
alter table aspire_sync.entity_account_scope add column taken_at timestamptz;
update aspire_sync.entity_account_scope set taken_at = since;
alter table aspire_sync.entity_account_scope alter column taken_at set not null;
alter table aspire_sync.entity_account_scope alter column taken_at set default now();
alter table aspire_sync.entity_contract_scope add column taken_at timestamptz;
update aspire_sync.entity_contract_scope set taken_at = since;
alter table aspire_sync.entity_contract_scope alter column taken_at set not null;
alter table aspire_sync.entity_contract_scope alter column taken_at set default now();
