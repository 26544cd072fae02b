-- A load writes its run_log row when it starts (status 'running', with its session's backend_pid), on its own, and
-- completes it in the load's transaction (success) or after a rollback (failed). A load whose process died before
-- it ended (a worker killed outright) leaves its row 'running'; the next load of the entity marks it failed once its
-- session is gone. So a killed attempt shows in run_log as failed, not as nothing.
alter table aspire_sync.run_log drop constraint if exists run_log_status_check;
alter table aspire_sync.run_log add constraint run_log_status_check
    check (status in ('running', 'success', 'failed'));
alter table aspire_sync.run_log add column backend_pid integer;
create index ix_run_log_running on aspire_sync.run_log (entity) where status = 'running';
