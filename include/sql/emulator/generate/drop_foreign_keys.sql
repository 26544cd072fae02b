-- Sets aside dbo's foreign keys for the bulk seed: per-row checks would cost more than loading the rows.
-- Their definitions are kept in a temp table; restore_foreign_keys re-creates (and so validates) them afterwards.
create temp table seed_foreign_key on commit drop as
select conrelid::regclass::text as table_name, conname as constraint_name,
       pg_get_constraintdef(oid) as definition
from pg_constraint
where contype = 'f' and connamespace = 'dbo'::regnamespace;

do $$
declare
    fk record;
begin
    for fk in select table_name, constraint_name from seed_foreign_key loop
        execute format('alter table %s drop constraint %I', fk.table_name, fk.constraint_name);
    end loop;
end
$$;
