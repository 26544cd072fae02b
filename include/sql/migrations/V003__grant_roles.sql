-- The portal application's read access: aspire_portal_reader (created by include/sql/admin/setup_roles.sql and
-- granted to the portal's login) reads aspire and aspire_sync, now and what later migrations create, and writes
-- nothing. Only objects the migrating role owns are touched; a deployment without the role is left alone.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'aspire_portal_reader') then
        grant usage on schema aspire, aspire_sync to aspire_portal_reader;
        grant select on all tables in schema aspire, aspire_sync to aspire_portal_reader;
        alter default privileges in schema aspire, aspire_sync grant select on tables to aspire_portal_reader;
    end if;
end
$$;
