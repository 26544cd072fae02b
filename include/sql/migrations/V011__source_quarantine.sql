-- source_quarantine: rows ASPIRE handed over that the portal cannot take (a NULL where a column needs a value, a
-- value beyond a column's range or length), kept so they are seen and retried: every other row of the load was
-- written and the watermark moved; each later run reads these keys again, and a row leaves the table when it loads
-- or leaves the scope. row_key is the target key as a JSON object ({"invoice_oid": 42}).
create table aspire_sync.source_quarantine (
    entity          varchar(40)     not null,
    row_key         jsonb           not null,
    source_rowver   bigint,
    problems        text            not null,
    first_seen_at   timestamptz     not null default now(),
    last_seen_at    timestamptz     not null default now(),
    first_run_id    varchar(250),
    last_run_id     varchar(250),
    times_seen      integer         not null default 1,
    primary key (entity, row_key)
);

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'aspire_portal_reader') then
        grant select on aspire_sync.source_quarantine to aspire_portal_reader;
    end if;
end
$$;
