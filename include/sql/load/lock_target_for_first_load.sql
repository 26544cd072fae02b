-- Holds off other writers of an empty target until this first load commits; readers are not blocked (they see
-- the empty table until the commit, then every row at once).
lock table {{ target }} in share row exclusive mode
