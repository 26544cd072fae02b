-- Records the in-scope contracts of a resolved scope, each with the account and role that bring it in.
insert into aspire_sync.scope_contract (resolution_id, contract_oid, account_oid, role_type)
select %(resolution_id)s, l.contract_oid, l.account_oid, l.role_type
from unnest(cast(%(contracts)s as bigint[]), cast(%(accounts)s as bigint[]), cast(%(roles)s as varchar[]))
    as l(contract_oid, account_oid, role_type)
