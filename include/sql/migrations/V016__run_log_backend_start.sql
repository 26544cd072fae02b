-- A running load's session is its pid and its start time: PostgreSQL reuses pids, and a row whose pid a newer,
-- unrelated session got would otherwise look alive forever (never marked failed, and holding the entity's Change
-- Tracking version back).
alter table aspire_sync.run_log add column backend_start timestamptz;
