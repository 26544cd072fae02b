-- Looks up one invoice in ASPIRE for `explain`: whom it is billed to, on which contract, and its row version.
{% import "macros/aspire.sql" as aspire with context %}
select
    i.InvoiceOid as invoice_oid,
    i.InvoiceNumber as invoice_number,
    i.AccountOid as account_oid,
    i.ContractOid as contract_oid,
    i.Amount as amount,
    i.Balance as balance,
    {{ aspire.row_version("i.RowVer") }} as rowver
from dbo.Invoice as i
where i.InvoiceOid = %(id)s
