-- Forgets the entity's Change Tracking version (a re-baseline): its next load checks every key, then starts again.
delete from aspire_sync.change_tracking_version
where entity = %(entity)s
