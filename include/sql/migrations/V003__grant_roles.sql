-- Least privilege, where the DBA has created the roles (see README, "Database roles"):
--   aspire_portal_sync   owns what the sync writes (aspire, aspire_sync) and only reads portal.portal_user_account;
--   aspire_portal_reader the portal application: reads aspire and aspire_sync, writes nothing.
-- Roles that do not exist are skipped, so a deployment that manages grants itself is left alone.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'aspire_portal_sync') then
        grant usage, create on schema aspire, aspire_sync to aspire_portal_sync;
        grant select, insert, update, delete on all tables in schema aspire, aspire_sync to aspire_portal_sync;
        alter default privileges in schema aspire, aspire_sync
            grant select, insert, update, delete on tables to aspire_portal_sync;
        if exists (select 1 from pg_namespace where nspname = 'portal') then
            grant usage on schema portal to aspire_portal_sync;
            if to_regclass('portal.portal_user_account') is not null then
                grant select on portal.portal_user_account to aspire_portal_sync;
            end if;
        end if;
    end if;
    if exists (select 1 from pg_roles where rolname = 'aspire_portal_reader') then
        grant usage on schema aspire, aspire_sync to aspire_portal_reader;
        grant select on all tables in schema aspire, aspire_sync to aspire_portal_reader;
        alter default privileges in schema aspire, aspire_sync grant select on tables to aspire_portal_reader;
    end if;
end
$$;
