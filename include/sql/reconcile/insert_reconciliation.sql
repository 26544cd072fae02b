-- Stores one measurement of a reconciliation (see plugins/aspire_portal/reconcile.py).
insert into aspire_sync.reconciliation (
    dag_id, run_id, task_id, phase, entity, measure, account_oid, contract_oid,
    aspire_value, portal_value, difference, read_bound
)
values (
    %(dag_id)s, %(run_id)s, %(task_id)s, %(phase)s, %(entity)s, %(measure)s, %(account_oid)s, %(contract_oid)s,
    %(aspire_value)s, %(portal_value)s, %(difference)s, %(read_bound)s
)
