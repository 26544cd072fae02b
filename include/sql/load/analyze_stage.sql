-- Gives the planner the staging table's size, so the merge picks hash joins for large loads.
analyze {{ stage }}
