-- A fingerprint of the business data (every column but RowVer and LastModifiedAt) per table: equal for two
-- seeds of the same size and seed number.
select 'Account' as table_name,
       md5(string_agg((to_jsonb(t) - 'rowver' - 'lastmodifiedat')::text, '|' order by t.AccountOid)) as checksum
from dbo.Account t
union all
select 'Contract', md5(string_agg((to_jsonb(t) - 'rowver' - 'lastmodifiedat')::text, '|' order by t.ContractOid))
from dbo.Contract t
union all
select 'AmortizationLine',
       md5(string_agg((to_jsonb(t) - 'rowver' - 'lastmodifiedat')::text, '|' order by t.ContractOid, t."LineNo"))
from dbo.AmortizationLine t
union all
select 'Invoice', md5(string_agg((to_jsonb(t) - 'rowver' - 'lastmodifiedat')::text, '|' order by t.InvoiceOid))
from dbo.Invoice t
union all
select 'CashReceipt', md5(string_agg((to_jsonb(t) - 'rowver' - 'lastmodifiedat')::text, '|' order by t.ReceiptOid))
from dbo.CashReceipt t
union all
select 'Equipment', md5(string_agg((to_jsonb(t) - 'rowver' - 'lastmodifiedat')::text, '|' order by t.EquipmentOid))
from dbo.Equipment t
order by table_name;
