-- One contract scenario, for an event on a contract that uses one the generator did not define.
select s.ScenarioOid, s.Name, s.ProductType, s.PurchaseOption
from dbo.ContractScenario s
where s.ScenarioOid = %(scenario_oid)s;
