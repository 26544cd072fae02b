-- The invoices billed to the given accounts or raised on the given contracts, with their owners as ASPIRE has
-- them now: their detail lines stay in the portal only while the invoice is in scope.
{% import "macros/aspire.sql" as aspire with context %}
select
    i.InvoiceOid as invoice_oid,
    i.AccountOid as account_oid,
    i.ContractOid as contract_oid
from dbo.Invoice as i
{% if aspire.short("accounts") and aspire.short("contracts") -%}
where (i.AccountOid in ({{ aspire.id_list("accounts") }}) or i.ContractOid in ({{ aspire.id_list("contracts") }}))
{% else -%}
where i.InvoiceOid in (
    select by_account.InvoiceOid
    from dbo.Invoice as by_account
    where by_account.AccountOid in ({{ aspire.id_list("accounts") }})
    union
    select by_contract.InvoiceOid
    from dbo.Invoice as by_contract
    where by_contract.ContractOid in ({{ aspire.id_list("contracts") }})
)
{% endif -%}
