#!/usr/bin/env bash
# Applies database migrations in order, each once, each in its own
# transaction, recording them in cc.schema_migrations.
#
#   ops/db/migrate.sh ADMIN_URL KAMAILIO_PASSWORD APP_PASSWORD
#
# First Kamailio's own tables, from Debian's scripts in
# /usr/share/kamailio/postgres (with their `version` rows), in schema
# kamailio; then ours, ops/db/migrations/NNNN_name.sql, in schema cc.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ADMIN=$1 KAM_PW=$2 APP_PW=$3
KAM_SQL=/usr/share/kamailio/postgres
KAM_MODULES="standard auth_db domain usrloc registrar dialog permissions"

psql_admin() { psql "$ADMIN/${DB:-cc}" -v ON_ERROR_STOP=1 -q -X "$@"; }

# Database and roles (idempotent).
DB=postgres psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'cc'" | grep -q 1 \
	|| DB=postgres psql_admin -c "CREATE DATABASE cc"
psql_admin <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kamailio') THEN CREATE ROLE kamailio LOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cc_app') THEN CREATE ROLE cc_app LOGIN; END IF;
END \$\$;
ALTER ROLE kamailio PASSWORD '$KAM_PW';
ALTER ROLE cc_app PASSWORD '$APP_PW';
ALTER ROLE kamailio SET search_path = kamailio;
CREATE SCHEMA IF NOT EXISTS kamailio;
CREATE SCHEMA IF NOT EXISTS cc;
CREATE TABLE IF NOT EXISTS cc.schema_migrations (
  name text PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);
SQL

applied() { psql_admin -tAc "SELECT 1 FROM cc.schema_migrations WHERE name = '$1'" | grep -q 1; }

for m in $KAM_MODULES; do
	name="kamailio/$m"
	applied "$name" && continue
	echo "migrate: $name"
	{ echo "BEGIN; SET LOCAL search_path = kamailio;"; cat "$KAM_SQL/$m-create.sql";
	  echo "INSERT INTO cc.schema_migrations(name) VALUES ('$name'); COMMIT;"; } | psql_admin
done

for f in "$HERE"/migrations/[0-9]*.sql; do
	name=$(basename "$f" .sql)
	applied "$name" && continue
	echo "migrate: $name"
	{ echo "BEGIN;"; cat "$f"; echo "INSERT INTO cc.schema_migrations(name) VALUES ('$name'); COMMIT;"; } | psql_admin
done

# Grants follow the tables (also for tables added by later migrations).
psql_admin <<'SQL'
GRANT USAGE ON SCHEMA kamailio TO kamailio, cc_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA kamailio TO kamailio, cc_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA kamailio TO kamailio, cc_app;
GRANT USAGE ON SCHEMA cc TO cc_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA cc TO cc_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA cc TO cc_app;
-- money history is append-only, for the application too
REVOKE UPDATE, DELETE ON cc.ledger_txns, cc.ledger_entries, cc.rated_lines, cc.tariff_versions,
  cc.tariff_rates FROM cc_app;
SQL
