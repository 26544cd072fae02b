-- Inserts one dbo.Contract row; the stamp_row_version trigger sets RowVer and LastModifiedAt.
insert into dbo.Contract (
    ContractOid, ContractId, CustomerAccountOid, ScenarioOid, LineOfCreditOid, Status, IsBooked, BookedDate,
    CommencementDate, MaturityDate, TermMonths, PaymentFrequency, PaymentTiming, PaymentAmount, EquipmentCost,
    ResidualAmount, Rate, TerminationDate
) values (
    %(ContractOid)s, %(ContractId)s, %(CustomerAccountOid)s, %(ScenarioOid)s, %(LineOfCreditOid)s, %(Status)s,
    %(IsBooked)s, %(BookedDate)s, %(CommencementDate)s, %(MaturityDate)s, %(TermMonths)s,
    %(PaymentFrequency)s, %(PaymentTiming)s, %(PaymentAmount)s, %(EquipmentCost)s, %(ResidualAmount)s,
    %(Rate)s, %(TerminationDate)s
);
