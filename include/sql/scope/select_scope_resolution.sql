-- One resolved scope: the newest a run resolved, or the newest resolved for every enrolled customer.
select r.resolution_id, r.customers, r.base_resolution_id, r.read_bound, r.resolved_at
from aspire_sync.scope_resolution as r
where {% if by_run %}r.dag_id = %(dag_id)s and r.run_id = %(run_id)s{% else %}r.kind = 'all'{% endif %}
order by r.resolution_id desc
limit 1
