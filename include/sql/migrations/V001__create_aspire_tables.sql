-- Creates schema aspire: one table per ASPIRE table, the source key as primary key, every source column under
-- its snake_case name, plus source_rowver (the ASPIRE RowVer the row was read at) and synced_at.
-- The portal's developers read these tables: their names are a public interface. The schema is created only when
-- missing (include/sql/admin/setup_roles.sql creates it for the sync's role, which may not create schemas).
do $$
begin
    if to_regnamespace('aspire') is null then
        create schema aspire;
    end if;
end
$$;

create table aspire.account (
    account_oid         bigint          primary key,
    account_number      varchar(20)     not null,
    name                varchar(200)    not null,
    dba_name            varchar(200),
    is_business         boolean         not null,
    email               varchar(200),
    phone               varchar(30),
    address_line1       varchar(200),
    address_line2       varchar(200),
    city                varchar(100),
    state               char(2),
    postal_code         varchar(10),
    status              varchar(20)     not null,
    last_modified_at    timestamp(3)    not null,
    source_rowver       bigint          not null,
    synced_at           timestamptz     not null default now()
);

create table aspire.account_contact (
    contact_oid         bigint          primary key,
    account_oid         bigint          not null,
    first_name          varchar(100)    not null,
    last_name           varchar(100)    not null,
    email               varchar(200),
    phone               varchar(30),
    is_primary          boolean         not null,
    last_modified_at    timestamp(3)    not null,
    source_rowver       bigint          not null,
    synced_at           timestamptz     not null default now()
);
create index ix_account_contact_account on aspire.account_contact (account_oid);

create table aspire.contract_scenario (
    scenario_oid        bigint          primary key,
    name                varchar(100)    not null,
    product_type        varchar(20)     not null,
    purchase_option     varchar(30)     not null,
    last_modified_at    timestamp(3)    not null,
    source_rowver       bigint          not null,
    synced_at           timestamptz     not null default now()
);

create table aspire.line_of_credit (
    line_of_credit_oid  bigint          primary key,
    account_oid         bigint          not null,
    line_number         varchar(20)     not null,
    approved_amount     numeric(18, 2)  not null,
    used_amount         numeric(18, 2)  not null,
    available_amount    numeric(18, 2)  not null,
    is_revolving        boolean         not null,
    effective_date      date            not null,
    expiration_date     date,
    status              varchar(20)     not null,
    last_modified_at    timestamp(3)    not null,
    source_rowver       bigint          not null,
    synced_at           timestamptz     not null default now()
);
create index ix_line_of_credit_account on aspire.line_of_credit (account_oid);

create table aspire.contract (
    contract_oid            bigint          primary key,
    contract_id             varchar(20)     not null,
    customer_account_oid    bigint          not null,
    scenario_oid            bigint          not null,
    line_of_credit_oid      bigint,
    status                  varchar(20)     not null,
    is_booked               boolean         not null,
    booked_date             date,
    commencement_date       date,
    maturity_date           date,
    term_months             integer         not null,
    payment_frequency       varchar(12)     not null,
    payment_timing          varchar(8)      not null,
    payment_amount          numeric(18, 2)  not null,
    equipment_cost          numeric(18, 2)  not null,
    residual_amount         numeric(18, 2)  not null,
    rate                    numeric(9, 6)   not null,
    termination_date        date,
    last_modified_at        timestamp(3)    not null,
    source_rowver           bigint          not null,
    synced_at               timestamptz     not null default now()
);
create index ix_contract_customer on aspire.contract (customer_account_oid);

create table aspire.contract_role (
    contract_role_oid   bigint          primary key,
    contract_oid        bigint          not null,
    account_oid         bigint          not null,
    role_type           varchar(20)     not null,
    last_modified_at    timestamp(3)    not null,
    source_rowver       bigint          not null,
    synced_at           timestamptz     not null default now()
);
create index ix_contract_role_contract on aspire.contract_role (contract_oid);
create index ix_contract_role_account on aspire.contract_role (account_oid, role_type);

create table aspire.invoice (
    invoice_oid         bigint          primary key,
    invoice_number      varchar(20)     not null,
    account_oid         bigint          not null,
    contract_oid        bigint,
    invoice_date        date            not null,
    due_date            date            not null,
    amount              numeric(18, 2)  not null,
    balance             numeric(18, 2)  not null,
    status              varchar(20)     not null,
    last_modified_at    timestamp(3)    not null,
    source_rowver       bigint          not null,
    synced_at           timestamptz     not null default now()
);
create index ix_invoice_account on aspire.invoice (account_oid);
create index ix_invoice_contract on aspire.invoice (contract_oid);

create table aspire.invoice_detail (
    invoice_detail_oid  bigint          primary key,
    invoice_oid         bigint          not null,
    contract_oid        bigint,
    transaction_code    varchar(20)     not null,
    amount              numeric(18, 2)  not null,
    balance             numeric(18, 2)  not null,
    last_modified_at    timestamp(3)    not null,
    source_rowver       bigint          not null,
    synced_at           timestamptz     not null default now()
);
create index ix_invoice_detail_invoice on aspire.invoice_detail (invoice_oid);
create index ix_invoice_detail_contract on aspire.invoice_detail (contract_oid);

create table aspire.cash_receipt (
    receipt_oid         bigint          primary key,
    account_oid         bigint          not null,
    contract_oid        bigint,
    received_date       date            not null,
    post_date           date,
    amount              numeric(18, 2)  not null,
    method              varchar(10)     not null,
    status              varchar(10)     not null,
    reference_number    varchar(40),
    last_modified_at    timestamp(3)    not null,
    source_rowver       bigint          not null,
    synced_at           timestamptz     not null default now()
);
create index ix_cash_receipt_account on aspire.cash_receipt (account_oid);
create index ix_cash_receipt_contract on aspire.cash_receipt (contract_oid);

create table aspire.contract_values (
    contract_oid            bigint          primary key,
    as_of_date              date            not null,
    principal_balance       numeric(18, 2)  not null,
    interest_rate           numeric(9, 6)   not null,
    principal_paid_to_date  numeric(18, 2)  not null,
    interest_paid_to_date   numeric(18, 2)  not null,
    remaining_payments      integer         not null,
    next_due_date           date,
    next_due_amount         numeric(18, 2)  not null,
    past_due_amount         numeric(18, 2)  not null,
    days_past_due           integer         not null,
    payoff_amount           numeric(18, 2)  not null,
    last_modified_at        timestamp(3)    not null,
    source_rowver           bigint          not null,
    synced_at               timestamptz     not null default now()
);

create table aspire.amortization_line (
    contract_oid        bigint          not null,
    line_no             integer         not null,
    due_date            date            not null,
    payment             numeric(18, 2)  not null,
    principal           numeric(18, 2)  not null,
    interest            numeric(18, 2)  not null,
    begin_balance       numeric(18, 2)  not null,
    end_balance         numeric(18, 2)  not null,
    last_modified_at    timestamp(3)    not null,
    source_rowver       bigint          not null,
    synced_at           timestamptz     not null default now(),
    primary key (contract_oid, line_no)
);

create table aspire.equipment (
    equipment_oid       bigint          primary key,
    contract_oid        bigint          not null,
    description         varchar(200)    not null,
    make                varchar(60),
    model               varchar(60),
    model_year          integer,
    serial_number       varchar(40)     not null,
    vin                 varchar(17),
    quantity            integer         not null,
    current_basis_value numeric(18, 2)  not null,
    city                varchar(100),
    state               char(2),
    status              varchar(20)     not null,
    last_modified_at    timestamp(3)    not null,
    source_rowver       bigint          not null,
    synced_at           timestamptz     not null default now()
);
create index ix_equipment_contract on aspire.equipment (contract_oid);
