-- Extracts the detail lines of the in-scope invoices (a detail is visible wherever its invoice is; a change of
-- its invoice, such as a re-bill to another account, brings its details along).
{% import "macros/aspire.sql" as aspire with context %}
select
    d.InvoiceDetailOid as invoice_detail_oid,
    d.InvoiceOid as invoice_oid,
    d.ContractOid as contract_oid,
    d.TransactionCode as transaction_code,
    d.Amount as amount,
    d.Balance as balance,
    d.LastModifiedAt as last_modified_at,
    {{ aspire.row_version("d.RowVer") }} as source_rowver
from dbo.InvoiceDetail as d
where exists (
    select 1
    from dbo.Invoice as i
    where i.InvoiceOid = d.InvoiceOid
      and {{ aspire.invoice_in_scope("i") }}
)
  {{ aspire.change_filter("d", parent=("dbo.Invoice", "InvoiceOid"),
                           source=("dbo.InvoiceDetail", "InvoiceDetailOid")) }}
