-- The invoices billed to the given accounts or raised on the given contracts (rendered as a full load with the
-- contracts known: parameters accounts and scoped_contracts), with their owners as ASPIRE has them now: their
-- detail lines stay in the portal only while the invoice is in scope.
{% import "macros/aspire.sql" as aspire with context %}
select
    i.InvoiceOid as invoice_oid,
    i.AccountOid as account_oid,
    i.ContractOid as contract_oid
from dbo.Invoice as i
where {{ aspire.invoice_in_scope("i") }}
