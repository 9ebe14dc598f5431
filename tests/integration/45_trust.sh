#!/usr/bin/env bash
# The local control planes trust only the platform's own parts: NATS
# refuses anonymous clients and holds each user to its subjects, billingd
# drops an event whose body names another tenant than its subject,
# Kamailio's JSON-RPC is a 0600 unix socket and FIFO instead of a UDP
# port, each daemon has a database role limited to what it writes, and no
# secret shows on a command line.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1
new_tenant acme; new_tenant bravo
A=${TID[acme]} B=${TID[bravo]}
SECRETS=$CC_VAR/secrets

# event TENANT CALL TYPE TS [EXTRA]: one event body
event() {
	printf '{"v":1,"id":"%s","ts":"%s","tenant":"%s","type":"%s","call":"%s"%s}' \
		"$(uuid)" "$4" "$1" "$3" "$2" "${5:+,$5}"
}
# record_exists CALL: billingd wrote a call record for it
record_exists() { [ "$(sql "SELECT count(*) FROM cc.calls WHERE id = '$1'")" != 0 ]; }
# a call billingd must record: proves it consumed everything published before
marker() {
	local c; c=$(uuid)
	"$PUB" "$NATS" "cc.call.$A.offered" - "$(event "$A" "$c" offered 2026-11-23T10:00:00Z '"direction":"inbound"')"
	wait_for 15 record_exists "$c"
}

# --- NATS: no anonymous client
F1=$(uuid)
out=$(CC_NATS_CREDS= "$PUB" "$NATS" "cc.call.$B.offered" - \
	"$(event "$B" "$F1" offered 2026-11-23T10:00:00Z '"direction":"inbound"')" 2>&1)
check nats_anonymous_refused [ $? != 0 ]
check nats_anonymous_says_why grep -qi 'authentication violation' <<< "$out"
out=$(CC_NATS_CREDS= "$TOP/build${SAN:+-asan}/tests/natsping" "$NATS" 1 0 2>&1)
check nats_anonymous_request_refused [ $? != 0 ]

# --- NATS: a user holds to its subjects (tenantd publishes cc.cfg.> only)
F2=$(uuid)
CC_NATS_CREDS=$SECRETS/nats_tenantd timeout 20 "$PUB" "$NATS" "cc.call.$B.ended" - \
	"$(event "$B" "$F2" ended 2026-11-23T11:00:00Z '"code":200,"result":"answered"')" > /dev/null 2>&1
check nats_tenantd_cannot_publish_calls [ $? != 0 ]
check nats_violation_logged grep -q "Publish Violation - User \"tenantd\", Subject \"cc.call.$B.ended\"" "$CC_VAR/log/nats.log"
check nats_creds_private [ "$(stat -c %a "$SECRETS/nats_tenantd")" = 600 -a "$(stat -c %a "$CC_VAR/run/nats.conf")" = 600 ]

# --- a daemon whose NATS credentials are unusable stops at once, saying why
B_=${CC_BUILD:-$TOP/build}
for d in billing/billingd routing/routingd tenantd/tenantd; do
	out=$(CC_PG_URL=postgresql://nobody@127.0.0.1:1/cc CC_NATS_URL="$NATS" CC_NATS_CREDS=/nonexistent \
		CC_SPOOL_DIR="$CC_VAR/spool-x" CC_TLS_CERT="$SECRETS/tls.crt" CC_TLS_KEY="$SECRETS/tls.key" \
		CC_OPERATOR_TOKEN_FILE="$CC_VAR/operator.token" CC_API_PORT="$(pick_port)" \
		CC_ROUTING_METRICS_PORT=0 CC_EVAPI_PORT="$(pick_port)" timeout 10 "$B_/$d" 2>&1)
	rc=$?
	check "bad_creds_fatal.${d#*/}" [ "$rc" = 1 ]
	check "bad_creds_said.${d#*/}" grep -q "CC_NATS_CREDS /nonexistent: No such file" <<< "$out"
done

# --- billingd: the subject's tenant must be the body's
F3=$(uuid)
"$PUB" "$NATS" "cc.call.$A.offered" - "$(event "$B" "$F3" offered 2026-11-23T12:00:00Z '"direction":"inbound","from":"+8613800000001"')"
"$PUB" "$NATS" "cc.call.$A.answered" - "$(event "$B" "$F3" answered 2026-11-23T12:00:01Z)"
"$PUB" "$NATS" "cc.call.$A.ended" - "$(event "$B" "$F3" ended 2026-11-23T13:00:00Z '"code":200,"result":"answered"')"
check consumer_goes_on marker
check forged_leaves_no_record not record_exists "$F3"
expect_eq forged_leaves_no_event "$(sql "SELECT count(*) FROM cc.call_events WHERE call_id = '$F3'")" 0
api GET "/v1/tenants/bravo/calls/$F3" "${KEY[bravo]}"
expect_eq forged_not_shown_to_victim "$HTTP" 404
check forged_logged grep -q "dropping an event whose tenant is not its subject's (3 so far)" "$CC_VAR/log/billingd.log"
check anonymous_left_no_record not record_exists "$F1"
check tenantd_user_left_no_record not record_exists "$F2"

# --- Kamailio's JSON-RPC: no network port, a private socket, reloads work
# (this stack's Kamailio: the process group its pid file names)
kam_pids=$(ps -o pid= -g "$(cat "$CC_VAR/run/kamailio.pid")" | tr -d ' ' | paste -sd'|')
kam_udp=$(ss -Hulnp 2>/dev/null | grep -E "pid=($kam_pids)," | awk '{ print $4 }' | sed 's/.*://' | sort -u | tr '\n' ' ')
expect_eq rpc_no_udp_port "$kam_udp" "$CC_SIP_PORT "
check rpc_socket_private [ "$(stat -c %a "$CC_VAR/run/kamailio/rpc.sock")" = 600 -a "$(stat -c %a "$CC_VAR/run/kamailio/rpc.fifo")" = 600 ]
check rpc_shell_client bash -c "'$TOP/ops/kamrpc.sh' core.version | grep -q '\"result\"'"
# a new tenant's domain reaches Kamailio by tenantd's domain.reload
new_tenant charlie
new_agent charlie 1001 charlie-pass-1001
check rpc_reload_then_register sip_register 1001 "${DOMAIN[charlie]}" charlie-pass-1001 "$(pick_port)"
check rpc_reload_not_refused not grep -q 'Kamailio RPC' "$CC_VAR/log/tenantd.log"

# --- PostgreSQL: one role per daemon, each limited to what it writes
denied() { local out; out=$(sql_as "$1" "$2" 2>&1); grep -q 'permission denied' <<< "$out"; }
C=$(uuid)
check db_routingd_cannot_insert_calls denied cc_routingd "INSERT INTO cc.calls (id, tenant_id) VALUES ('$C', '$A')"
check db_routingd_cannot_change_tenants denied cc_routingd "UPDATE cc.tenants SET name = 'x'"
check db_routingd_cannot_read_keys denied cc_routingd "SELECT count(*) FROM cc.api_keys"
check db_routingd_reads_model [ "$(sql_as cc_routingd "SELECT count(*) FROM cc.tenants")" = 3 ]
check db_tenantd_cannot_insert_calls denied cc_tenantd "INSERT INTO cc.calls (id, tenant_id) VALUES ('$C', '$A')"
check db_tenantd_cannot_write_events denied cc_tenantd "DELETE FROM cc.call_events"
check db_tenantd_cannot_write_grants denied cc_tenantd "UPDATE cc.grants SET settled_at = now()"
check db_tenantd_cannot_rewrite_ledger denied cc_tenantd "UPDATE cc.ledger_entries SET amount_micro = 0"
check db_billingd_cannot_write_tenants denied cc_billingd "UPDATE cc.tenants SET enabled = false"
check db_billingd_cannot_write_keys denied cc_billingd "DELETE FROM cc.api_keys"
check db_billingd_no_sip_tables denied cc_billingd "SELECT count(*) FROM kamailio.subscriber"
check db_kamailio_no_platform_tables denied kamailio "SELECT count(*) FROM cc.api_keys"
users=$(sql "SELECT string_agg(DISTINCT usename, ' ' ORDER BY usename) FROM pg_stat_activity WHERE usename LIKE 'cc_%' AND usename <> 'cc_admin'")
# mediad's recorder writes its recordings' rows as cc_mediad
want="cc_billingd cc_routingd cc_tenantd"
[ -x "${CC_BUILD:-$TOP/build}/media/mediad" ] && want="cc_billingd cc_mediad cc_routingd cc_tenantd"
expect_eq db_daemons_use_own_roles "$users" "$want"

# --- no secret on any command line
leaks=0 procs=$(ps -eo args)
for f in "$SECRETS"/pg_* "$SECRETS"/nats_*; do
	pw=$(sed 's/^[^:]*://' "$f")
	grep -qF -- "$pw" <<< "$procs" && { echo "# $f shows in ps"; leaks=$((leaks + 1)); }
done
expect_eq no_secret_in_ps "$leaks" 0
