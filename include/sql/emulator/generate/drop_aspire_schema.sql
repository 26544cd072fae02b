-- Drops the emulated ASPIRE (schema dbo with its tables, sequences and functions) before a new seed.
drop schema if exists dbo cascade;
