-- Bounds every lock wait for the rest of the transaction (SET LOCAL lock_timeout): a wait past it fails the
-- statement with lock_not_available.
select set_config('lock_timeout', %(timeout)s, true)
