-- Streams the extracted rows into the staging table (or, on a first load, straight into the empty target).
copy {{ table }} ({{ columns | join(", ") }}) from stdin
