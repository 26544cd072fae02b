-- The contracts in scope now (booked, an in-scope account Customer or Guarantor): the incremental run compares
-- them with the portal's to find those that just came into scope and need their existing rows brought along.
{% import "macros/aspire.sql" as aspire with context %}
{{ aspire.scoped_contracts() }}
