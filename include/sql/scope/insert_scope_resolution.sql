-- Records one resolved scope (its accounts and contracts are inserted next, in the same transaction, unless it
-- shares those of `members_of`: an identical scope).
insert into aspire_sync.scope_resolution (
    kind, customers, base_resolution_id, dag_id, run_id, read_bound, resolved_at, accounts, contracts, members_of,
    source_fingerprint, snapshot, others_snapshot
)
values (
    %(kind)s, %(customers)s, %(base_resolution_id)s, %(dag_id)s, %(run_id)s, %(read_bound)s, %(resolved_at)s,
    %(accounts)s, %(contracts)s, %(members_of)s, %(source_fingerprint)s, cast(%(snapshot)s as pg_snapshot),
    cast(%(others_snapshot)s as pg_snapshot)
)
returning resolution_id
