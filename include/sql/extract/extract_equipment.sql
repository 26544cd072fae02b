-- Extracts the equipment (asset list, serial numbers) on the in-scope contracts.
{% import "macros/aspire.sql" as aspire with context %}
select
    e.EquipmentOid as equipment_oid,
    e.ContractOid as contract_oid,
    e.Description as description,
    e.Make as make,
    e.Model as model,
    e.ModelYear as model_year,
    e.SerialNumber as serial_number,
    e.Vin as vin,
    e.Quantity as quantity,
    e.CurrentBasisValue as current_basis_value,
    e.City as city,
    e.State as state,
    e.Status as status,
    e.LastModifiedAt as last_modified_at,
    {{ aspire.row_version("e.RowVer") }} as source_rowver
from dbo.Equipment as e
where e.ContractOid in ({{ aspire.scoped_contracts() }})
  {{ aspire.change_filter("e") }}
