-- The scope rule, resolved: each booked contract on which one of the given accounts is Customer or Guarantor (with
-- by_contracts: each of the given contracts, whichever accounts), with the account and role that bring it into
-- scope, and the newer of the two rows' row versions (a resolution can vouch for the tables it read only when every
-- row it used is below its read bound).
{% import "macros/aspire.sql" as aspire with context %}
select
    r.ContractOid as contract_oid,
    r.AccountOid as account_oid,
    r.RoleType as role_type,
    case
        when {{ aspire.row_version("r.RowVer") }} > {{ aspire.row_version("c.RowVer") }}
        then {{ aspire.row_version("r.RowVer") }}
        else {{ aspire.row_version("c.RowVer") }}
    end as newest_rowver
from dbo.ContractRole as r
inner join dbo.Contract as c on c.ContractOid = r.ContractOid
where c.IsBooked = 1
  and r.RoleType in ('Customer', 'Guarantor')
{%- if by_contracts is defined and by_contracts %}
  and r.ContractOid in ({{ aspire.id_list("contracts") }})
{%- else %}
  and r.AccountOid in ({{ aspire.id_list("accounts") }})
{%- endif %}
