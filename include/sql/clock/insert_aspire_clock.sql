-- Keeps one sample of ASPIRE's newest row version and clock (see aspire_sync.aspire_clock).
insert into aspire_sync.aspire_clock (sampled_at, dbts)
values (%(sampled_at)s, %(dbts)s)
on conflict do nothing
