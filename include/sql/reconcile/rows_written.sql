-- How many rows the current transaction has inserted, updated or deleted so far in the given tables (its own writes,
-- whatever made them: the sync's statements, a trigger; rows of savepoints rolled back too). Null when the server
-- does not count them (track_counts off): then nobody can say nothing was written.
select
    case
        when current_setting('track_counts') = 'on'
            then cast(coalesce(sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del), 0) as bigint)
    end as rows_written
from unnest(cast(%(tables)s as text[])) as t (name)
left join pg_stat_xact_user_tables as s on s.relid = cast(t.name as regclass)
