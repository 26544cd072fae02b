-- Streams the extracted rows into the staging table (or, on a first load, straight into the empty target); typed
-- rows (ASPIRE's, through pymssql) in binary, each value dumped as its column's type.
copy {{ table }} ({{ columns | join(", ") }}) from stdin{% if binary %} (format binary){% endif %}
