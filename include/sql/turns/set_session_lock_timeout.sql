-- Bounds every lock wait of this session (SET lock_timeout), until a transaction sets its own.
select set_config('lock_timeout', %(timeout)s, false)
