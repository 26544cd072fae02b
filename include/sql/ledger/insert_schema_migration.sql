-- Records one applied migration.
insert into aspire_sync.schema_migration (version, name, checksum)
values (%(version)s, %(name)s, %(checksum)s)
