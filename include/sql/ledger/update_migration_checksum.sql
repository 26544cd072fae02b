-- Records the checksum of a migration rewritten in place (see migrations.REWRITTEN).
update aspire_sync.schema_migration
set checksum = %(checksum)s
where version = %(version)s
