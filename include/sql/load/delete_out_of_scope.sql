-- Deletes rows of this entity that no scope justifies any more (see macros/out_of_scope.sql: the candidates of mode
-- "exits" or "missing", less what another account still justifies). Rows at or above the read bound were written
-- by a newer read: not ours (select_kept_out_of_scope.sql finds them, so the entity keeps holding their owners).
{% import "macros/out_of_scope.sql" as out_of_scope %}
with deleted as (
    delete from {{ target }} as t
    where t.source_rowver < %(read_bound)s
      {{- out_of_scope.unjustified(stage, key, owner, mode, taken_by) }}
    returning 1
)

select count(*) as rows_deleted
from deleted
