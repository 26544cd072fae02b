-- One resolved scope: the newest a run resolved, or the newest resolved for every enrolled customer. members_id is
-- the resolution whose accounts and contracts it reads (its own, or those of the one it came out the same as);
-- accounts and contracts: how many it holds, to tell its stored rows read whole.
select r.resolution_id, r.customers, r.base_resolution_id, r.read_bound, r.resolved_at,
       coalesce(r.members_of, r.resolution_id) as members_id, r.source_fingerprint,
       cast(r.snapshot as text) as snapshot, cast(r.others_snapshot as text) as others_snapshot,
       r.accounts, r.contracts
from aspire_sync.scope_resolution as r
where {% if by_run %}r.dag_id = %(dag_id)s and r.run_id = %(run_id)s{% else %}r.kind = 'all'{% endif %}
order by r.resolution_id desc
limit 1
