-- Looks up one cash receipt in ASPIRE for `explain`: who paid, on which contract, and its row version.
{% import "macros/aspire.sql" as aspire with context %}
select
    r.ReceiptOid as receipt_oid,
    r.AccountOid as account_oid,
    r.ContractOid as contract_oid,
    r.Amount as amount,
    {{ aspire.row_version("r.RowVer") }} as rowver
from dbo.CashReceipt as r
where r.ReceiptOid = %(id)s
