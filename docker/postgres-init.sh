#!/bin/sh
# Temporal keeps its own databases, under its own role, beside batchflow's. The postgres image runs
# this once, on an empty volume; the password comes from .env (TEMPORAL_DB_PASSWORD), and
# temporal-schema creates the two databases with it.
set -eu
psql -v ON_ERROR_STOP=1 -v pw="$TEMPORAL_DB_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE temporal WITH LOGIN PASSWORD :'pw' CREATEDB;
SQL
