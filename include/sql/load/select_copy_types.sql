-- Lists the columns of the table a load COPYs into with their types, so typed rows can go in as binary COPY.
select a.attname as column_name, a.atttypid::int as type_oid, t.typname as type_name
from pg_attribute as a
inner join pg_type as t on t.oid = a.atttypid
where a.attrelid = to_regclass(%(table)s)
  and a.attnum > 0
  and not a.attisdropped
