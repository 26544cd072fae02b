-- Extracts the scenarios (operating lease, capital lease, loan; purchase option) of the in-scope contracts.
{% import "macros/aspire.sql" as aspire with context %}
select
    s.ScenarioOid as scenario_oid,
    s.Name as name,
    s.ProductType as product_type,
    s.PurchaseOption as purchase_option,
    s.LastModifiedAt as last_modified_at,
    {{ aspire.row_version("s.RowVer") }} as source_rowver
from dbo.ContractScenario as s
where s.ScenarioOid in (
    select c.ScenarioOid
    from dbo.Contract as c
    where c.ContractOid in ({{ aspire.scoped_contracts() }})
)
  {{ aspire.change_filter("s") }}
