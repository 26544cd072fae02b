-- Transfers a contract to another customer: its Customer role, the contract itself, and the invoices and receipts
-- raised on it now belong to the new account.
with moved_role as (
    update dbo.ContractRole set AccountOid = %(account_oid)s
    where ContractOid = %(contract_oid)s and RoleType = 'Customer'
    returning 1
),

moved_contract as (
    update dbo.Contract set CustomerAccountOid = %(account_oid)s
    where ContractOid = %(contract_oid)s
    returning 1
),

moved_invoices as (
    update dbo.Invoice set AccountOid = %(account_oid)s
    where ContractOid = %(contract_oid)s
    returning 1
)

update dbo.CashReceipt set AccountOid = %(account_oid)s
where ContractOid = %(contract_oid)s
