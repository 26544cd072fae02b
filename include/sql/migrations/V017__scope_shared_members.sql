-- A resolution of everyone that comes out the same as the one before it shares that one's accounts and contracts
-- instead of writing tens of thousands of rows again (members_of: the resolution whose scope_account and
-- scope_contract rows it reads; null: its own). The rows live as long as any resolution reads them.
--
-- source_fingerprint: what ASPIRE's scope tables looked like when this scope was read (row count and newest row
-- version of each) and the read bound it was read below; null when that read cannot vouch for the tables (a row
-- at or above the bound). A later resolution that finds the same counts, and nothing at or above that bound, knows
-- the tables are unchanged and re-reads only the accounts it has not seen (see plugins/aspire_portal/scope.py).
alter table aspire_sync.scope_resolution add column members_of bigint;
alter table aspire_sync.scope_resolution add column source_fingerprint jsonb;
create index ix_scope_resolution_members_of on aspire_sync.scope_resolution (members_of)
    where members_of is not null;
-- one row to serialize the writers of resolutions with the one that forgets them (see V006 for sync_lock)
insert into aspire_sync.sync_lock (name) values ('scope_resolution') on conflict (name) do nothing;
