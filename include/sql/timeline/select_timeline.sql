-- What the sync knows of ASPIRE's timeline, locked for the check that may change it, with the highest watermark.
select t.database_guid, t.recovery_fork_guid, t.highest_dbts, t.state, t.detail, t.detected_at, t.checked_at,
       t.rebaseline_started_at,
       (select max(w.high_water_mark) from aspire_sync.watermark as w) as highest_watermark
from aspire_sync.aspire_timeline as t
where t.id = 1
for update of t
