-- Inserts one dbo.ContractScenario row; the stamp_row_version trigger sets RowVer and LastModifiedAt.
insert into dbo.ContractScenario (
    ScenarioOid, Name, ProductType, PurchaseOption
) values (
    %(ScenarioOid)s, %(Name)s, %(ProductType)s, %(PurchaseOption)s
);
