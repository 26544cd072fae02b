-- ASPIRE's business date now (its local clock, or the moment pinned with set aspire.now).
select dbo.aspire_local_now()::date as today;
