#!/usr/bin/env bash
# billingd fed directly through JetStream: out-of-order events, an event
# delivered twice, and malformed events that must not stop the consumer.
# natspub connects as the stack's tools user (tests/lib.sh).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1
new_tenant acme
T=${TID[acme]}
# ev CALL TYPE TS [EXTRA-JSON]: publishes one event with a fresh id
ev() {
	local id; id=$(uuid)
	local body="{\"v\":1,\"id\":\"$id\",\"ts\":\"$3\",\"tenant\":\"$T\",\"type\":\"$2\",\"call\":\"$1\"${4:+,$4}}"
	LAST_ID=$id LAST_BODY=$body
	"$PUB" "$NATS" "cc.call.$T.$2" "$id" "$body"
}
call() { api GET "/v1/tenants/acme/calls/$1" "${KEY[acme]}"; }
psql_admin() {
	PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p "$CC_PG_PORT" -U cc_admin -d cc -tAc "$1"
}
has_talk() { call "$1"; [ "$(jr .talk_seconds)" = "$2" ]; }

# --- in order
A=$(uuid)
ev "$A" offered 2026-11-23T10:00:00.000000Z '"direction":"inbound","from":"+8613800000001","to":"+8657112345678","number":"+8657112345678","sip_call_id":"abc"'
ev "$A" routed 2026-11-23T10:00:00.010000Z '"direction":"inbound","agent":"1001"'
ev "$A" answered 2026-11-23T10:00:05.000000Z
ev "$A" ended 2026-11-23T10:00:35.000000Z '"code":200,"result":"answered"'
check in_order_record wait_for 10 has_talk "$A" 30
check in_order_shape [ "$(jr .result)" = answered -a "$(jr .agent)" = 1001 -a "$(jr .from)" = +8613800000001 -a "$(jr .started_at)" = 2026-11-23T10:00:00.000000Z ]

# --- the same event twice (a replay from a spool: same id, new stream message)
"$PUB" "$NATS" "cc.call.$T.ended" "$(uuid)" "${LAST_BODY/10:00:35/10:09:35}"
ev "$A" answered 2026-11-23T10:00:06.000000Z   # a marker that follows the duplicate
sleep 2
check duplicate_changes_nothing has_talk "$A" 30
expect_eq duplicate_recorded_once "$(psql_admin "SELECT count(*) FROM cc.call_events WHERE call_id = '$A' AND type = 'ended'")" 1

# --- out of order: ended, answered, offered
B=$(uuid)
ev "$B" ended 2026-11-23T11:00:20.000000Z '"code":200,"result":"answered"'
ev "$B" answered 2026-11-23T11:00:02.000000Z
ev "$B" offered 2026-11-23T11:00:00.000000Z '"direction":"inbound","from":"+8613800000002","to":"+8657112345678","number":"+8657112345678"'
# the three may land in different batches: wait for the last one's field too
has_talk_from() { has_talk "$1" "$2" && [ "$(jr .from)" = "$3" ]; }
check out_of_order_record wait_for 10 has_talk_from "$B" 18 +8613800000002
check out_of_order_shape [ "$(jr .result)" = answered -a "$(jr .from)" = +8613800000002 ]

# --- malformed events are skipped; the consumer goes on
"$PUB" "$NATS" "cc.call.$T.offered" "$(uuid)" 'not json'
"$PUB" "$NATS" "cc.call.$T.offered" "$(uuid)" '{"v":1,"type":"offered"}'
"$PUB" "$NATS" "cc.call.$T.offered" "$(uuid)" "{\"v\":1,\"id\":\"$(uuid)\",\"ts\":\"yesterday\",\"tenant\":\"$T\",\"type\":\"offered\",\"call\":\"$(uuid)\"}"
# refused by the database (no such tenant): dropped alone, not with its batch
X=$(uuid)
"$PUB" "$NATS" "cc.call.$X.offered" "$(uuid)" "{\"v\":1,\"id\":\"$(uuid)\",\"ts\":\"2026-11-23T12:00:00Z\",\"tenant\":\"$X\",\"type\":\"offered\",\"call\":\"$(uuid)\"}"
C=$(uuid)
ev "$C" offered 2026-11-23T12:00:01.000000Z '"direction":"inbound"'
ev "$C" rejected 2026-11-23T12:00:01.100000Z '"code":603,"reason":"Decline","result":"rejected"'
check consumer_not_wedged wait_for 10 bash -c "curl -sk -H 'Authorization: Bearer ${KEY[acme]}' $API/v1/tenants/acme/calls/$C | grep -q '\"sip_code\":603'"
check malformed_logged grep -q 'skipping a message' "$CC_VAR/log/billingd.log"
check refused_logged grep -q 'dropping event the database refuses' "$CC_VAR/log/billingd.log"

# --- a refusal that is not the event's fault (here: a missing privilege,
# as a bad deploy would cause) keeps the batch for a retry; nothing is lost
psql_admin "REVOKE INSERT ON cc.call_events FROM cc_billingd" > /dev/null
D=$(uuid)
ev "$D" offered 2026-11-23T13:00:00.000000Z '"direction":"inbound"'
ev "$D" rejected 2026-11-23T13:00:00.100000Z '"code":486,"reason":"Busy Here","result":"busy"'
check stalled_not_dropped wait_for 10 grep -q 'batch kept for retry' "$CC_VAR/log/billingd.log"
check nothing_dropped not grep -q "dropping event.*$D" "$CC_VAR/log/billingd.log"
psql_admin "GRANT INSERT ON cc.call_events TO cc_billingd" > /dev/null
check kept_events_applied_after_fix wait_for 15 bash -c "curl -sk -H 'Authorization: Bearer ${KEY[acme]}' $API/v1/tenants/acme/calls/$D | grep -q '\"sip_code\":486'"
