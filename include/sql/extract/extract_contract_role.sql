-- Extracts every role (Customer, Guarantor, CoLessee, Vendor) held on an in-scope contract.
{% import "macros/aspire.sql" as aspire with context %}
select
    r.ContractRoleOid as contract_role_oid,
    r.ContractOid as contract_oid,
    r.AccountOid as account_oid,
    r.RoleType as role_type,
    r.LastModifiedAt as last_modified_at,
    {{ aspire.row_version("r.RowVer") }} as source_rowver
from dbo.ContractRole as r
where r.ContractOid in ({{ aspire.scoped_contracts() }})
  {{ aspire.change_filter("r") }}
