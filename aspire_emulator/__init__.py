"""An emulator of LTi ASPIRE (lease and loan servicing, on SQL Server) in PostgreSQL, for demos, tests and
benchmarks of the portal sync.

- `generate.create`: the 12 dbo tables with SQL Server row-version semantics, seeded deterministically.
- `portal`: the portal application's users and their links to ASPIRE accounts (enrolment).
- `simulate`: ASPIRE activity as ordinary committed transactions, one event at a time or a random mix.
- `python -m aspire_emulator`: all of it from the command line.
"""
