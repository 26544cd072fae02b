-- Looks up one contract in ASPIRE for `explain`: whether it is booked, and its row version.
{% import "macros/aspire.sql" as aspire with context %}
select
    c.ContractOid as contract_oid,
    c.ContractId as contract_id,
    c.IsBooked as is_booked,
    c.Status as status,
    {{ aspire.row_version("c.RowVer") }} as rowver
from dbo.Contract as c
where c.ContractOid = %(id)s
