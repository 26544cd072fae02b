-- The sync's state toward ASPIRE's timeline (no row: never checked, as good as ok).
select t.state, t.detail, t.detected_at, t.rebaseline_started_at
from aspire_sync.aspire_timeline as t
where t.id = 1
