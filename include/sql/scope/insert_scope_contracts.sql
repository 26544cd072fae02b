-- Records the in-scope contracts of a resolved scope, each with the account and role that bring it in: the given
-- links, plus, for a scope built on a base resolution, the base's links of every account that did not change
-- (copied on the server, not sent again).
insert into aspire_sync.scope_contract (resolution_id, contract_oid, account_oid, role_type)
select %(resolution_id)s, l.contract_oid, l.account_oid, l.role_type
from unnest(cast(%(contracts)s as bigint[]), cast(%(accounts)s as bigint[]), cast(%(roles)s as varchar[]))
    as l(contract_oid, account_oid, role_type)
union all
select %(resolution_id)s, b.contract_oid, b.account_oid, b.role_type
from aspire_sync.scope_contract as b
where b.resolution_id = %(base_members_id)s
  and b.account_oid <> all(cast(%(changed)s as bigint[]))
