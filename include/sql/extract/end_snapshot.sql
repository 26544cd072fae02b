-- Back to the isolation the extracts read with, after the Change Tracking reads (SQL Server keeps the level for the
-- session; PostgreSQL's ended with its transaction).
SET TRANSACTION ISOLATION LEVEL READ COMMITTED
