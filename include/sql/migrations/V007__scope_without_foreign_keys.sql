-- A customer full sync persists a copy of everyone's scope (tens of thousands of rows at scale); checking each row's
-- foreign key to scope_resolution doubled the time of that insert. The rows are written and forgotten only by
-- scope.py, resolution by resolution (sync/delete_old_scope_resolutions.sql deletes a resolution's rows with it).
alter table aspire_sync.scope_account drop constraint if exists scope_account_resolution_id_fkey;
alter table aspire_sync.scope_contract drop constraint if exists scope_contract_resolution_id_fkey;
