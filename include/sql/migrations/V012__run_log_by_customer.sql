-- The loads of one customer, newest first: `status` shows the error of a customer's failed full sync.
create index if not exists ix_run_log_customer on aspire_sync.run_log (customer_id, started_at desc)
    where customer_id is not null;
