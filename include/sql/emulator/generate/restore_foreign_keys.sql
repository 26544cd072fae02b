-- Re-creates the foreign keys drop_foreign_keys set aside; adding one checks every seeded row against it.
do $$
declare
    fk record;
begin
    for fk in select table_name, constraint_name, definition from seed_foreign_key loop
        execute format('alter table %s add constraint %I %s', fk.table_name, fk.constraint_name, fk.definition);
    end loop;
end
$$;
