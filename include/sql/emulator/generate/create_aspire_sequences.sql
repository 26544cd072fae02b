-- The id sequences the simulator takes new surrogate keys from (ASPIRE allocates Oids itself; the emulator
-- has no identity columns so that the seed can load chosen ids). Set past the seed's ids by reset_aspire_sequences.
create sequence if not exists dbo.seq_contract_scenario;
create sequence if not exists dbo.seq_account;
create sequence if not exists dbo.seq_account_contact;
create sequence if not exists dbo.seq_line_of_credit;
create sequence if not exists dbo.seq_contract;
create sequence if not exists dbo.seq_contract_role;
create sequence if not exists dbo.seq_equipment;
create sequence if not exists dbo.seq_invoice;
create sequence if not exists dbo.seq_invoice_detail;
create sequence if not exists dbo.seq_cash_receipt;
