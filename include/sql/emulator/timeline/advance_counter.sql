-- Moves this database's row-version counter on by %(versions)s row versions (a busy timeline); the new @@DBTS.
select dbo.advance_counter(%(versions)s)
