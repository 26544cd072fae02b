-- Extracts the payments received from an in-scope account or applied to an in-scope contract.
{% import "macros/aspire.sql" as aspire with context %}
select
    r.ReceiptOid as receipt_oid,
    r.AccountOid as account_oid,
    r.ContractOid as contract_oid,
    r.ReceivedDate as received_date,
    r.PostDate as post_date,
    r.Amount as amount,
    r.Method as method,
    r.Status as status,
    r.ReferenceNumber as reference_number,
    r.LastModifiedAt as last_modified_at,
    {{ aspire.row_version("r.RowVer") }} as source_rowver
from dbo.CashReceipt as r
{% if aspire.tests_rows() -%}
where (r.AccountOid in ({{ aspire.id_list("accounts") }}) or r.ContractOid in ({{ aspire.scoped_contracts() }}))
{% else -%}
where r.ReceiptOid in (
    select by_account.ReceiptOid
    from dbo.CashReceipt as by_account
    where by_account.AccountOid in ({{ aspire.id_list("accounts") }})
    union
    select by_contract.ReceiptOid
    from dbo.CashReceipt as by_contract
    where by_contract.ContractOid in ({{ aspire.scoped_contracts() }})
)
{% endif -%}
  {{ aspire.change_filter("r") }}
