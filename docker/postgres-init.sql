-- Temporal keeps its own databases, under its own role, beside batchflow's.
CREATE ROLE temporal WITH LOGIN PASSWORD 'temporal' CREATEDB;
