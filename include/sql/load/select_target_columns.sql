-- Lists the columns of one aspire table in order, so the loader checks an extract against its target.
select a.attname as column_name
from pg_attribute as a
where a.attrelid = to_regclass(%(table)s)
  and a.attnum > 0
  and not a.attisdropped
order by a.attnum
