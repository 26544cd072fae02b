-- Inserts one dbo.Equipment row; the stamp_row_version trigger sets RowVer and LastModifiedAt.
insert into dbo.Equipment (
    EquipmentOid, ContractOid, Description, Make, Model, ModelYear, SerialNumber, Vin, Quantity,
    CurrentBasisValue, City, State, Status
) values (
    %(EquipmentOid)s, %(ContractOid)s, %(Description)s, %(Make)s, %(Model)s, %(ModelYear)s, %(SerialNumber)s,
    %(Vin)s, %(Quantity)s, %(CurrentBasisValue)s, %(City)s, %(State)s, %(Status)s
);
