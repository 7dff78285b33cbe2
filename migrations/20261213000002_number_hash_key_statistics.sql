-- The key table holds one row, but a table never analyzed is estimated at hundreds of rows
-- from its page size, and the claim joins it: the planner then expects thousands of rows
-- where there are a few. Autovacuum never analyzes a table this small on its own.
analyze number_hash_key;
