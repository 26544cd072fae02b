-- Extracts the amortization schedules of the in-scope contracts (operating leases have none).
{% import "macros/aspire.sql" as aspire with context %}
select
    l.ContractOid as contract_oid,
    l.{{ aspire.quoted("LineNo") }} as line_no,
    l.DueDate as due_date,
    l.Payment as payment,
    l.Principal as principal,
    l.Interest as interest,
    l.BeginBalance as begin_balance,
    l.EndBalance as end_balance,
    l.LastModifiedAt as last_modified_at,
    {{ aspire.row_version("l.RowVer") }} as source_rowver
from dbo.AmortizationLine as l
where l.ContractOid in ({{ aspire.scoped_contracts() }})
  {{ aspire.change_filter("l") }}
