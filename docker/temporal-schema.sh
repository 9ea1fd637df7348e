#!/bin/sh
# Temporal's schema in its two PostgreSQL databases, with the schema tool of the server's release.
# Each step is a no-op on a database already at that version. Run by docker-compose.yml's
# temporal-schema service (the admin-tools image) and by the cluster test (test/cluster), so both
# set up Temporal the same way.
#
# temporal-sql-tool reads its connection from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and
# SQL_PASSWORD. This script reads DBNAME and VISIBILITY_DBNAME (the names the server's config
# reads), TEMPORAL_SCHEMA_DIR (the server module's schema/postgresql/v12) and TEMPORAL_SQL_TOOL.
set -eu
tool=${TEMPORAL_SQL_TOOL:-temporal-sql-tool}
schema=${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}
db=${DBNAME:-temporal}
visibility=${VISIBILITY_DBNAME:-temporal_visibility}

# create-database fails when the database exists, which is the normal case on a restart.
"$tool" --db "$db" create-database || echo "temporal-schema: $db exists"
"$tool" --db "$visibility" create-database || echo "temporal-schema: $visibility exists"
"$tool" --db "$db" setup-schema -v 0.0
"$tool" --db "$db" update-schema -d "$schema/temporal/versioned"
"$tool" --db "$visibility" setup-schema -v 0.0
"$tool" --db "$visibility" update-schema -d "$schema/visibility/versioned"
