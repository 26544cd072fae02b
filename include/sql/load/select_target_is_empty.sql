-- Whether the target table has no rows at all (a first load may then COPY straight into it).
select not exists (select 1 from {{ target }}) as is_empty
