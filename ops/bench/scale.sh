#!/usr/bin/env bash
# Scale of routingd's model (part of make bench): SCALE_TENANTS (10,000)
# tenants with SCALE_PER_TENANT (100) agents and as many numbers each
# (1,000,000 of each by default) plus one block-list prefix per tenant, in
# a private PostgreSQL. Measures
#   - the real routingd: time to load the model (its own log line and
#     metrics) and its resident memory afterwards (/proc/<pid>/status),
#   - bench_model (routingd's model code in one process): load time, and
#     p50/p99 of a number lookup and of a whole carrier-call decision over
#     1,000,000 random numbers, each timed alone,
#   - the reference: PostgreSQL's own time to hand over the same rows
#     (psql \copy of the same three queries to /dev/null), same run.
# Targets (issue 2): load <= 10 s, RSS <= 1 GiB, lookup p99 <= 10 us.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=scale
. "$TOP/tests/lib.sh"
: "${SCALE_TENANTS:=10000}" "${SCALE_PER_TENANT:=100}"
BUILD=${BUILD:-$TOP/build}

export CC_VAR; CC_VAR=$(mktemp -d -p /tmp); chmod 755 "$CC_VAR"
for k in CC_PG_PORT CC_NATS_PORT CC_NATS_HTTP_PORT CC_EVAPI_PORT CC_ROUTING_METRICS_PORT; do
	export "$k=$(pick_port)"
done
cleanup() {
	[ -n "${RPID:-}" ] && kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
	"$TOP/ops/stack.sh" stop > /dev/null 2>&1
	rm -rf "$CC_VAR"
}
trap cleanup EXIT
"$TOP/ops/stack.sh" start pg nats > "$CC_VAR/start.log" 2>&1 || { cat "$CC_VAR/start.log"; exit 1; }
ADMIN_URL="postgresql://cc_admin:$(cat "$CC_VAR/secrets/pg_admin")@127.0.0.1:$CC_PG_PORT/cc"
APP_URL=$("$TOP/ops/stack.sh" pgurl cc_app)
sql() { psql -q -X -v ON_ERROR_STOP=1 "$ADMIN_URL" "$@"; }

echo "# routing model scale benchmark, $(date -u +%FT%TZ)"
echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), PostgreSQL $(psql --version | awk '{print $3}')"
t0=$(date +%s.%N)
sql <<SQL || exit 1
INSERT INTO cc.tenants (id, slug, name, timezone, sip_domain)
  SELECT gen_random_uuid(), 't' || lpad(i::text, 6, '0'), 'Tenant ' || i, 'UTC',
         't' || lpad(i::text, 6, '0') || '.cc.test'
  FROM generate_series(1, $SCALE_TENANTS) i;
INSERT INTO cc.agents (id, tenant_id, extension, name)
  SELECT gen_random_uuid(), t.id, (1000 + j)::text, 'Agent ' || j
  FROM cc.tenants t, generate_series(0, $SCALE_PER_TENANT - 1) j;
INSERT INTO cc.numbers (id, tenant_id, e164, target_type, target_extension)
  SELECT gen_random_uuid(), t.id,
         '+86571' || lpad((row_number() OVER (ORDER BY t.id, j))::text, 8, '0'), 'agent',
         (1000 + j)::text
  FROM cc.tenants t, generate_series(0, $SCALE_PER_TENANT - 1) j;
INSERT INTO cc.blocklist (id, tenant_id, prefix)
  SELECT gen_random_uuid(), id, '8613900' FROM cc.tenants;
ANALYZE;
SQL
t1=$(date +%s.%N)
echo "# data: $(sql -tAc "SELECT (SELECT count(*) FROM cc.tenants) || ' tenants, ' || (SELECT count(*) FROM cc.numbers) || ' numbers, ' || (SELECT count(*) FROM cc.agents) || ' agents'"), written in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"

# the reference: PostgreSQL handing over the rows routingd reads, no model built
t0=$(date +%s.%N)
for q in "SELECT id, slug, sip_domain, enabled FROM cc.tenants" \
         "SELECT tenant_id, extension FROM cc.agents" \
         "SELECT tenant_id, e164, target_extension FROM cc.numbers ORDER BY created_at, id" \
         "SELECT tenant_id, e164, prefix FROM cc.blocklist"; do
	psql -q -X "$APP_URL" -c "\\copy ($q) to /dev/null" || exit 1
done
t1=$(date +%s.%N)
pg_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')

# the real routingd: load time and resident memory
LOG=$CC_VAR/routingd.log
# (its NATS user and evapi secret as the stack gives them; no Kamailio here,
# so evapi only retries)
(umask 077; [ -s "$CC_VAR/secrets/evapi" ] || openssl rand -hex 20 > "$CC_VAR/secrets/evapi")
CC_PG_URL=$APP_URL CC_NATS_URL=nats://127.0.0.1:$CC_NATS_PORT CC_SPOOL_DIR=$CC_VAR/spool \
	CC_NATS_CREDS=$CC_VAR/secrets/nats_routingd CC_EVAPI_SECRET_FILE=$CC_VAR/secrets/evapi \
	"$BUILD/routing/routingd" > "$LOG" 2>&1 &
RPID=$!
for ((i = 0; i < 600; i++)); do
	grep -q "model loaded in" "$LOG" && break
	kill -0 "$RPID" 2>/dev/null || { cat "$LOG"; exit 1; }
	sleep 0.1
done
sleep 1
r_load=$(sed -n 's/.*model loaded in \([0-9.]*\) s.*/\1/p' "$LOG" | head -1)
r_rss=$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$RPID/status")
r_hwm=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$RPID/status")
kill "$RPID"; wait "$RPID" 2>/dev/null; RPID=

# routingd's model code alone: lookups and decisions
out=$(CC_PG_URL=$APP_URL "$BUILD/tests/bench_model") || { echo "$out"; exit 1; }
v() { awk -v k="$1" '$1 == k { print $2 }' <<< "$out"; }

echo
echo "| measure | result | target |"
echo "|---|---|---|"
echo "| model | $(v tenants) tenants, $(v numbers) numbers, $(v agents) agents | 10,000 / 1,000,000 / 1,000,000 |"
echo "| routingd load time (its log) | ${r_load} s ($(awk -v a="$r_load" -v b="$pg_s" 'BEGIN { printf "%.2f", a / b }') x PostgreSQL's own ${pg_s} s to hand over the rows) | <= 10 s: $(awk -v a="$r_load" 'BEGIN { print (a <= 10 ? "met" : "NOT met") }') |"
echo "| routingd resident memory after load | ${r_rss} MiB (peak ${r_hwm} MiB) | <= 1024 MiB: $(awk -v a="$r_hwm" 'BEGIN { print (a <= 1024 ? "met" : "NOT met") }') |"
echo "| number lookup, $(v lookups) random numbers | p50 $(v lookup_p50_ns) ns, p99 $(v lookup_p99_ns) ns, max $(v lookup_max_ns) ns | p99 <= 10,000 ns: $(awk -v a="$(v lookup_p99_ns)" 'BEGIN { print (a <= 10000 ? "met" : "NOT met") }') |"
echo "| whole carrier decision (rt_decide) | p50 $(v decide_p50_ns) ns, p99 $(v decide_p99_ns) ns, max $(v decide_max_ns) ns | (same) |"
echo "| bench_model's own load of the same data | $(v load_s) s, RSS $(( $(v rss_after_kib) / 1024 )) MiB | |"
echo "# each figure includes one clock read pair: p50 $(v clock_p50_ns) ns"
[ "$(v lookups_found)" = "$(v lookups)" ] || echo "# WARNING: $(( $(v lookups) - $(v lookups_found) )) lookups missed"
