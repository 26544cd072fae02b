-- Inserts one dbo.ContractRole row; the stamp_row_version trigger sets RowVer and LastModifiedAt.
insert into dbo.ContractRole (
    ContractRoleOid, ContractOid, AccountOid, RoleType
) values (
    %(ContractRoleOid)s, %(ContractOid)s, %(AccountOid)s, %(RoleType)s
);
