#!/usr/bin/env bash
# Call records learn mediad's events (docs/MEDIA.md, docs/EVENTS.md): the
# events go straight into JetStream (tests/tools/natspub) as mediad and
# routingd publish them, in scrambled order and twice, and the records
# come back from cc.calls and the tenant's API.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

new_tenant acme
T=${TID[acme]}
ev() { # ev CALL TYPE TS [EXTRA]: one event, its id in $LAST_ID
	local id; id=$(uuid)
	LAST_BODY="{\"v\":1,\"id\":\"$id\",\"ts\":\"$3\",\"tenant\":\"$T\",\"type\":\"$2\",\"call\":\"$1\"${4:+,$4}}"
	LAST_ID=$id
	"$PUB" "$NATS" "cc.call.$T.$2" "$id" "$LAST_BODY"
}
q() { sql "SELECT $2 FROM cc.calls WHERE id = '$1'"; }
sql_is() { [ "$(sql "$2")" = "$1" ]; }
offered() { ev "$1" offered "$2" '"direction":"inbound","from":"+8613800000001","to":"+8657199990001","number":"+8657199990001"'; }

# --- a caller who hangs up in the IVR, its events out of order, one twice
C1=$(uuid)
ev "$C1" media_ended 2026-11-20T10:00:09.000000Z '"seq":4,"result":"ivr_abandoned","ivr_ms":8300,"flow":"main","vars":{"account":"1234"},"media":{"caller":{"packets_in":410,"packets_out":415,"lost":2,"jitter_ms":3}}'
ev "$C1" ivr 2026-11-20T10:00:05.000000Z '"seq":3,"node":"account","node_type":"collect","var":"account","value":"1234"'
ev "$C1" ended 2026-11-20T10:00:09.100000Z '"code":200,"result":"answered"'
ev "$C1" ivr 2026-11-20T10:00:01.000000Z '"seq":1,"node":"hours","node_type":"schedule"'
ev "$C1" ivr 2026-11-20T10:00:03.000000Z '"seq":2,"node":"welcome","node_type":"menu","digit":"1"'
"$PUB" "$NATS" "cc.call.$T.ivr" "$LAST_ID" "$LAST_BODY"       # the same event again
offered "$C1" 2026-11-20T10:00:00.000000Z
ev "$C1" routed 2026-11-20T10:00:00.010000Z '"direction":"inbound","agent":"","flow":"f1000000-0000-4000-8000-000000000001","media":"11111111-0000-4000-8000-000000000001"'
ev "$C1" answered 2026-11-20T10:00:00.700000Z
check abandoned_recorded wait_for 15 sql_is ivr_abandoned "SELECT result FROM cc.calls WHERE id = '$C1' AND ended_at IS NOT NULL AND answered_at IS NOT NULL"
expect_eq ivr_path_in_seq_order "$(q "$C1" "ivr::text")" \
	'[{"node": "hours"}, {"node": "welcome", "digit": "1"}, {"var": "account", "node": "account", "value": "1234"}]'
expect_eq ivr_vars "$(q "$C1" "ivr_vars::text")" '{"account": "1234"}'
expect_eq ivr_ms "$(q "$C1" ivr_ms)" 8300
expect_eq ivr_flow_from_media_ended "$(q "$C1" flow)" main
expect_eq ivr_media_figures "$(q "$C1" "media->'caller'->>'lost'")" 2
expect_eq ivr_duplicate_stored_once "$(sql "SELECT count(*) FROM cc.call_events WHERE id = '$LAST_ID'")" 1
expect_eq ivr_talk_seconds_kept "$(q "$C1" talk_seconds)" 8
api GET "/v1/tenants/acme/calls/$C1" "${KEY[acme]}"
check api_shows_ivr [ "$(jr '[.ivr[].node] | join(",")')" = hours,welcome,account ]
check api_shows_ivr_fields [ "$(jr '.result + " " + .flow + " " + .ivr_vars.account + " " + (.ivr_ms | tostring)')" = "ivr_abandoned main 1234 8300" ]

# --- a caller bridged to an agent: answered, with its leg's parent
C2=$(uuid) L2=$(uuid)
offered "$C2" 2026-11-20T11:00:00.000000Z
ev "$C2" answered 2026-11-20T11:00:00.500000Z
ev "$C2" ivr 2026-11-20T11:00:01.000000Z '"seq":1,"node":"welcome","node_type":"menu","digit":"0"'
ev "$C2" agent_failed 2026-11-20T11:00:05.000000Z '"seq":2,"agent":"1001","code":480,"reason":"not registered"'
ev "$C2" bridged 2026-11-20T11:00:08.000000Z "\"seq\":3,\"agent\":\"1000\",\"leg\":\"$L2\""
ev "$L2" offered 2026-11-20T11:00:06.000000Z "\"direction\":\"internal\",\"from\":\"+8613800000001\",\"to\":\"1000\",\"parent\":\"$C2\""
ev "$L2" answered 2026-11-20T11:00:08.000000Z
ev "$C2" media_ended 2026-11-20T11:01:00.000000Z '"seq":4,"result":"bridged","ivr_ms":7500,"flow":"main"'
ev "$C2" ended 2026-11-20T11:01:00.100000Z '"code":200,"result":"answered"'
ev "$L2" ended 2026-11-20T11:01:00.100000Z '"code":200,"result":"answered"'
check bridged_recorded wait_for 15 sql_is answered "SELECT result FROM cc.calls WHERE id = '$C2' AND ended_at IS NOT NULL"
expect_eq bridged_ivr_ms "$(q "$C2" ivr_ms)" 7500
expect_eq leg_parent "$(q "$L2" parent_call)" "$C2"
check leg_recorded wait_for 15 sql_is answered "SELECT result FROM cc.calls WHERE id = '$L2' AND ended_at IS NOT NULL"
api GET "/v1/tenants/acme/calls/$L2" "${KEY[acme]}"
expect_eq api_shows_parent "$(jr .parent_call)" "$C2"

# --- the flow hung up (closed hours): ivr_ended, whatever order
C3=$(uuid)
ev "$C3" ended 2026-11-20T12:00:06.000000Z '"code":200,"result":"answered"'
ev "$C3" media_ended 2026-11-20T12:00:05.900000Z '"seq":3,"result":"ivr_ended","ivr_ms":5200,"flow":"main"'
ev "$C3" ivr 2026-11-20T12:00:02.000000Z '"seq":2,"node":"closed","node_type":"play","why":"closed"'
ev "$C3" ivr 2026-11-20T12:00:01.000000Z '"seq":1,"node":"hours","node_type":"schedule"'
ev "$C3" answered 2026-11-20T12:00:00.700000Z
offered "$C3" 2026-11-20T12:00:00.000000Z
check ivr_ended_recorded wait_for 15 sql_is ivr_ended "SELECT result FROM cc.calls WHERE id = '$C3' AND started_at IS NOT NULL AND answered_at IS NOT NULL"
expect_eq ivr_ended_path "$(q "$C3" "ivr::text")" '[{"node": "hours"}, {"why": "closed", "node": "closed"}]'

# --- hostile fields are dropped, never stored: a parent that is no id,
# variables too many or nested, RTCP figures nested too deep, a seq that
# is no number
C4=$(uuid)
many=$(for i in $(seq 1 40); do printf '"v%d":"x",' "$i"; done)
offered "$C4" 2026-11-20T13:00:00.000000Z
ev "$C4" ivr 2026-11-20T13:00:01.000000Z '"seq":"1; DROP TABLE cc.calls","node":"hours"'
ev "$C4" media_ended 2026-11-20T13:00:02.000000Z "\"seq\":2,\"result\":\"ivr_ended\",\"vars\":{${many%,}},\"media\":{\"a\":{\"b\":{\"c\":1}}},\"parent\":\"x'; --\""
ev "$C4" ended 2026-11-20T13:00:02.100000Z '"code":200,"result":"answered"'
check hostile_recorded wait_for 15 sql_is ivr_ended "SELECT result FROM cc.calls WHERE id = '$C4' AND ended_at IS NOT NULL"
expect_eq hostile_vars_dropped "$(q "$C4" "ivr_vars IS NULL")" t
expect_eq hostile_media_dropped "$(q "$C4" "media IS NULL")" t
expect_eq hostile_parent_dropped "$(q "$C4" "parent_call IS NULL")" t
expect_eq hostile_seq_path_kept "$(q "$C4" "ivr::text")" '[{"node": "hours"}]'

# --- another tenant's events about this tenant's call change nothing: its
# subject and body agree (billingd takes them), but the call is not its
new_tenant beta
T=${TID[beta]}
ev "$C1" ivr 2026-11-20T10:00:04.000000Z '"seq":9,"node":"forged","node_type":"menu","digit":"9"'
ev "$C1" media_ended 2026-11-20T10:00:10.000000Z '"seq":10,"result":"ivr_ended","ivr_ms":1,"vars":{"account":"forged"}'
FORGED=$LAST_ID
check cross_tenant_event_consumed wait_for 15 sql_is 1 "SELECT count(*) FROM cc.call_events WHERE id = '$FORGED'"
expect_eq cross_tenant_path_unchanged "$(q "$C1" "ivr::text")" \
	'[{"node": "hours"}, {"node": "welcome", "digit": "1"}, {"var": "account", "node": "account", "value": "1234"}]'
expect_eq cross_tenant_fields_unchanged "$(q "$C1" "result || ' ' || (ivr_ms::text) || ' ' || (ivr_vars->>'account')")" "ivr_abandoned 8300 1234"
T=${TID[acme]}

exit $FAILED
