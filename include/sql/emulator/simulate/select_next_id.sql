-- Allocates a new surrogate key from one of the dbo id sequences (named by the emulator's table catalogue).
select nextval(%(sequence)s::regclass) as oid;
