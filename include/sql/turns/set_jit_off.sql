-- Turns PostgreSQL's JIT compilation off for the rest of the transaction (SET LOCAL jit = off). A load of some
-- customers or of one 15-minute window runs short statements over row sets the planner overestimates; at 12,500
-- customers, compiling one such delete took 0.35 s of its 0.38 s. Full loads over everyone keep the server's setting.
select set_config('jit', 'off', true)
