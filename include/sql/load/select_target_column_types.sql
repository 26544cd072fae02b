-- The columns of one aspire table with their types and nullability: the stage is made wider than the target (so a
-- row the target cannot take still stages), and a checked merge tests each row against the target's limits.
select a.attname as column_name,
       t.typname as type_name,
       format_type(a.atttypid, a.atttypmod) as declared,
       a.attnotnull as not_null,
       case when t.typname in ('varchar', 'bpchar') and a.atttypmod > 4 then a.atttypmod - 4 end as max_length,
       case when t.typname = 'numeric' and a.atttypmod > 4 then ((a.atttypmod - 4) >> 16) & 65535 end as precision,
       case when t.typname = 'numeric' and a.atttypmod > 4 then (a.atttypmod - 4) & 65535 end as scale
from pg_attribute as a
inner join pg_type as t on t.oid = a.atttypid
where a.attrelid = to_regclass(%(table)s)
  and a.attnum > 0
  and not a.attisdropped
order by a.attnum
