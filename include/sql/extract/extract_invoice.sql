-- Extracts the invoices billed to an in-scope account or raised on an in-scope contract.
{% import "macros/aspire.sql" as aspire with context %}
select
    i.InvoiceOid as invoice_oid,
    i.InvoiceNumber as invoice_number,
    i.AccountOid as account_oid,
    i.ContractOid as contract_oid,
    i.InvoiceDate as invoice_date,
    i.DueDate as due_date,
    i.Amount as amount,
    i.Balance as balance,
    i.Status as status,
    i.LastModifiedAt as last_modified_at,
    {{ aspire.row_version("i.RowVer") }} as source_rowver
from dbo.Invoice as i
where {{ aspire.invoice_in_scope("i") }}
  {{ aspire.change_filter("i") }}
