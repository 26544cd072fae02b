-- The portal application's own tables, minimal: its users and the ASPIRE accounts each may see.
-- The portal owns these; the sync only reads portal.portal_user_account.
create schema if not exists portal;

create table if not exists portal.portal_user (
    user_id     bigint generated always as identity primary key,
    email       varchar(200) not null unique,
    created_at  timestamptz  not null default now()
);

create table if not exists portal.portal_user_account (
    user_id     bigint      not null references portal.portal_user on delete cascade,
    account_oid bigint      not null,
    linked_at   timestamptz not null default now(),
    primary key (user_id, account_oid)
);

create index if not exists ix_portal_user_account_account on portal.portal_user_account (account_oid);
