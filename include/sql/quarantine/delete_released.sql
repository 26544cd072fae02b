-- Releases the quarantined rows of an entity that this load settled: read and written (or unchanged) now, or asked
-- for by key and not returned (they left the scope, or ASPIRE deleted them); after a load over everyone, every row
-- it did not reject.
{% import "macros/quarantine.sql" as quarantine with context %}
delete from aspire_sync.source_quarantine as q
where q.entity = %(entity)s
{%- if rejected %}
  and not exists (select 1 from {{ rejected }} as r where {{ quarantine.row_key("r") }} = q.row_key)
{%- endif %}
  and (%(everyone)s
       or exists (select 1 from {{ stage }} as s where {{ quarantine.row_key("s") }} = q.row_key)
       or (q.row_key ->> %(retry_column)s)::bigint = any(cast(%(retried)s as bigint[])))
