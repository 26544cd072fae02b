-- The portal rows among the deleted keys that a read newer than this load's wrote (at or above its read bound): they
-- go only if ASPIRE lacks them now (a key deleted and written again is ASPIRE's again).
select t.{{ key[0] }}
from {{ target }} as t
inner join {{ deleted }} as d on d.{{ key[0] }} = t.{{ key[0] }}
where t.source_rowver >= %(read_bound)s
