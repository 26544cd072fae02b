-- Streams the extracted rows into the staging table.
copy {{ stage }} ({{ columns | join(", ") }}) from stdin
