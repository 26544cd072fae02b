-- "Data as of" for a read bound: the latest ASPIRE clock sample whose newest row version is below the bound, so
-- every transaction committed by then is below it and in the portal. Null when no sample qualifies yet.
select max(c.sampled_at) as data_as_of
from aspire_sync.aspire_clock as c
where c.dbts < %(read_bound)s
