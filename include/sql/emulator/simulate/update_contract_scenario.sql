-- Moves a contract onto another scenario (re-papered on a new product definition).
update dbo.Contract set ScenarioOid = %(scenario_oid)s
where ContractOid = %(contract_oid)s;
