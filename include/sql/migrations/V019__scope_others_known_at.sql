-- When a scope's view of the other customers was read: a scope of everyone's own resolution; a customer scope's
-- base (the newest scope of everyone it builds on), which it knows the others by. A load judges what other loads
-- took in against it: what was taken in after it is something the scope cannot know, and stays. Null for the
-- scopes resolved before this column: their own resolution.
alter table aspire_sync.scope_resolution add column others_known_at timestamptz;
