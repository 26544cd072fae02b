-- Least privilege for the ASPIRE -> portal sync, in one idempotent script. Run it once (again after an upgrade
-- does no harm) as the portal database's owner, or a superuser, connected to the portal database:
--
--     psql -v ON_ERROR_STOP=1 -d <portal db> -f include/sql/admin/setup_roles.sql
--     psql -d <portal db> -c '\password aspire_portal_sync'
--
-- It creates, when missing:
--   aspire_portal_sync    LOGIN, no password (set one as above): the Airflow connection `portal` logs in as it.
--                         Owns schemas aspire and aspire_sync (the migrations create everything in them); reads
--                         portal.portal_user_account and nothing else of the portal's; no CREATE on the database.
--   aspire_portal_reader  NOLOGIN: grant it to the portal application's login (grant aspire_portal_reader to
--                         <login>); reads aspire and aspire_sync, writes nothing.
-- The portal's own schema (portal, with portal.portal_user_account) must exist first: the portal creates it.
-- Creating roles needs CREATEROLE (a superuser has it); the owner is made a member of aspire_portal_sync so it
-- can hand the schemas over.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = current_user and (rolsuper or rolcreaterole)) then
        raise exception 'setup_roles.sql: % may not create roles (needs CREATEROLE or superuser); run it as the '
                        'portal database''s owner with CREATEROLE, or as a superuser', current_user;
    end if;
    if not exists (select 1 from pg_catalog.pg_class as c join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
                   where n.nspname = 'portal' and c.relname = 'portal_user_account') then
        raise exception 'setup_roles.sql: portal.portal_user_account does not exist in database %; connect to '
                        'the portal''s database (psql -d <portal db>) after the portal created its schema',
                        current_database();
    end if;
end
$$;

-- The roles, when missing (another session creating them at the same moment is fine).
do $$
declare
    wanted record;
begin
    for wanted in select * from (values ('aspire_portal_sync', 'login'), ('aspire_portal_reader', 'nologin'))
                                 as r (name, kind) loop
        begin
            execute format('create role %I %s', wanted.name, wanted.kind);
        exception when duplicate_object then
            null;
        end;
    end loop;
end
$$;
do $$
begin
    if not exists (select 1 from pg_roles where rolname = current_user and rolsuper)
       and not pg_has_role(current_user, 'aspire_portal_sync', 'MEMBER') then
        execute format('grant aspire_portal_sync to %I', current_user);
    end if;
end
$$;

-- Database level: connect, and temporary tables (each load stages its rows in one); nothing else.
do $$
begin
    execute format('revoke create on database %I from aspire_portal_sync', current_database());
    execute format('grant connect, temporary on database %I to aspire_portal_sync', current_database());
    execute format('grant connect on database %I to aspire_portal_reader', current_database());
end
$$;

-- The sync's schemas, owned by the sync's role. A deployment migrated before this script (by another role) hands
-- its tables and views over too, so the migrations, run as aspire_portal_sync, own what they alter.
do $$
declare
    schema_name text;
    relation record;
begin
    foreach schema_name in array array['aspire', 'aspire_sync'] loop
        if to_regnamespace(schema_name) is null then
            execute format('create schema %I authorization aspire_portal_sync', schema_name);
        else
            execute format('alter schema %I owner to aspire_portal_sync', schema_name);
        end if;
    end loop;
    for relation in
        select c.oid::regclass as name
        from pg_class as c
        where c.relnamespace in (to_regnamespace('aspire'), to_regnamespace('aspire_sync'))
          and c.relkind in ('r', 'p', 'v', 'm')
          and c.relowner <> (select oid from pg_roles where rolname = 'aspire_portal_sync')
    loop
        execute format('alter table %s owner to aspire_portal_sync', relation.name);
    end loop;
end
$$;

-- The portal's side: the enrolment links, read only; nothing else of schema portal. Granting needs the portal
-- schema's owner (or a grant option): a GRANT without it only warns, so the result is checked.
grant usage on schema portal to aspire_portal_sync;
grant select on portal.portal_user_account to aspire_portal_sync;
do $$
begin
    if not (has_schema_privilege('aspire_portal_sync', 'portal', 'USAGE')
            and has_table_privilege('aspire_portal_sync', 'portal.portal_user_account', 'SELECT')) then
        raise exception 'setup_roles.sql: % could not grant aspire_portal_sync read access to the enrolment table; '
                        'run these as the owner of schema portal (the portal application''s role), then run this '
                        'script again: grant usage on schema portal to aspire_portal_sync; grant select on '
                        'portal.portal_user_account to aspire_portal_sync;', current_user;
    end if;
end
$$;

-- The reader: everything in aspire and aspire_sync, read only, including what later migrations create.
grant usage on schema aspire, aspire_sync to aspire_portal_reader;
grant select on all tables in schema aspire, aspire_sync to aspire_portal_reader;
alter default privileges for role aspire_portal_sync in schema aspire, aspire_sync
    grant select on tables to aspire_portal_reader;
