-- Per entity, what its held accounts and contracts (entity_account_scope, entity_contract_scope) are known to be:
-- `members_id` set means they are exactly that stored scope's (scope_account / scope_contract of that id, as far
-- as the entity follows accounts and contracts), so a load of that scope need not read them; `version` counts
-- every change to them. Written only by a load that changes the held rows or finds them equal to its scope, after
-- locking this row (see plugins/aspire_portal/scope.py).
-- `follows` is what the entity followed when the marker was set ("accounts", "contracts" or both): a release that
-- changes it makes the marker say nothing.
create table aspire_sync.entity_scope_state (
    entity      varchar(40)     primary key,
    members_id  bigint,
    follows     varchar(40),
    version     bigint          not null default 0
);
