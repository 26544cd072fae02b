"""ASPIRE -> Customer Portal sync: the entity catalogue, the extract/load engine and the Airflow operators."""
