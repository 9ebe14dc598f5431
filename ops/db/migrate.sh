#!/usr/bin/env bash
# Applies database migrations in order, each once, each in its own
# transaction, recording them in cc.schema_migrations.
#
#   ops/db/migrate.sh ADMIN_URL SECRETS_DIR
#
# First Kamailio's own tables, from Debian's scripts in
# /usr/share/kamailio/postgres (with their `version` rows), in schema
# kamailio; then ours, ops/db/migrations/NNNN_name.sql, in schema cc; then
# ops/db/roles.sql, every time. Each login role's password is read from
# SECRETS_DIR/pg_<role> (never from the command line).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ADMIN=$1 SECRETS=$2
ROLES="kamailio cc_app cc_routingd cc_billingd cc_tenantd cc_mediad"
KAM_SQL=/usr/share/kamailio/postgres
KAM_MODULES="standard auth_db domain usrloc registrar dialog permissions"

psql_admin() { psql "$ADMIN/${DB:-cc}" -v ON_ERROR_STOP=1 -q -X "$@"; }

# Database and roles (idempotent).
DB=postgres psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'cc'" | grep -q 1 \
	|| DB=postgres psql_admin -c "CREATE DATABASE cc"
for r in $ROLES; do
	pw=$(cat "$SECRETS/pg_$r")
	[[ $pw =~ ^[0-9a-f]+$ ]] || { echo "migrate: $SECRETS/pg_$r is not a hex password" >&2; exit 1; }
	psql_admin <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$r') THEN CREATE ROLE $r LOGIN; END IF;
END \$\$;
ALTER ROLE $r PASSWORD '$pw';
SQL
done
psql_admin <<SQL
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
echo "migrate: roles"
psql_admin -f "$HERE/roles.sql"
