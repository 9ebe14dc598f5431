#!/usr/bin/env bash
# Call records learn the ACD's events (docs/ACD.md, migration 0006): the
# events go straight into JetStream (tests/tools/natspub) as routingd,
# mediad and tenantd publish them, out of order and twice; the records come
# back from cc.calls: queue, wait, queue result, hold time and holds,
# transfers, disposition (after the call's end too) and the answering agent.
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

# --- answered by 1002 after 1001 rang: held twice, transferred once, its
# disposition after the end; the events scrambled, one twice
C1=$(uuid)
ev "$C1" ended 2026-11-20T10:05:00.000000Z '"code":200,"result":"answered"'
ev "$C1" unheld 2026-11-20T10:02:10.000000Z '"agent":"1002","hold_ms":10000'
ev "$C1" agent_answered 2026-11-20T10:01:00.000000Z '"queue":"repair","agent":"1002","wait_ms":42000,"leg":"'"$(uuid)"'"'
"$PUB" "$NATS" "cc.call.$T.agent_answered" "$LAST_ID" "$LAST_BODY"
ev "$C1" queued 2026-11-20T10:00:18.000000Z '"queue":"repair","position":3,"expected_wait_s":40,"priority":0,"vip":false'
ev "$C1" offered_agent 2026-11-20T10:00:30.000000Z '"queue":"repair","agent":"1001","epoch":4,"offer":"'"$(uuid)"'"'
ev "$C1" held 2026-11-20T10:02:00.000000Z '"agent":"1002"'
ev "$C1" held 2026-11-20T10:03:00.000000Z '"agent":"1002"'
ev "$C1" unheld 2026-11-20T10:03:05.500000Z '"agent":"1002","hold_ms":5500'
ev "$C1" transferred 2026-11-20T10:04:00.000000Z '"from_agent":"1002","target":{"type":"agent","name":"1003"},"kind":"blind"'
offered "$C1" 2026-11-20T10:00:00.000000Z
ev "$C1" answered 2026-11-20T10:00:00.500000Z '"mediad":true'
check answered_recorded wait_for 15 sql_is answered "SELECT queue_result FROM cc.calls WHERE id = '$C1' AND ended_at IS NOT NULL AND holds = 2 AND transfers = 1"
expect_eq queue_recorded "$(q "$C1" queue)" repair
expect_eq queue_wait_from_answer "$(q "$C1" queue_wait_ms)" 42000
expect_eq hold_ms_summed "$(q "$C1" "hold_ms || ' ' || holds")" "15500 2"
expect_eq transfers_counted "$(q "$C1" transfers)" 1
expect_eq agent_is_answering_one "$(q "$C1" agent)" 1002
expect_eq duplicate_answer_once "$(sql "SELECT count(*) FROM cc.call_events WHERE call_id = '$C1' AND type = 'agent_answered'")" 1
ev "$C1" disposition 2026-11-20T10:06:00.000000Z '"agent":"1002","code":"complaint","note":"the washer leaks"'
check disposition_after_end wait_for 15 sql_is complaint "SELECT disposition FROM cc.calls WHERE id = '$C1'"
expect_eq disposition_note "$(q "$C1" disposition_note)" "the washer leaks"
expect_eq agent_kept_after_disposition "$(q "$C1" agent)" 1002
expect_eq result_still_answered "$(q "$C1" result)" answered
ev "$C1" disposition 2026-11-20T10:07:00.000000Z '"agent":"1002","code":"consultation","note":""'
check disposition_latest_wins wait_for 15 sql_is consultation "SELECT disposition FROM cc.calls WHERE id = '$C1'"

# --- abandoned while waiting
C2=$(uuid)
offered "$C2" 2026-11-20T11:00:00.000000Z
ev "$C2" answered 2026-11-20T11:00:00.400000Z '"mediad":true'
ev "$C2" queued 2026-11-20T11:00:05.000000Z '"queue":"general","position":1,"expected_wait_s":null,"priority":0,"vip":false'
ev "$C2" offered_agent 2026-11-20T11:00:10.000000Z '"queue":"general","agent":"1003","epoch":2,"offer":"'"$(uuid)"'"'
ev "$C2" abandoned 2026-11-20T11:00:35.000000Z '"queue":"general","wait_ms":30000,"position":1'
ev "$C2" ended 2026-11-20T11:00:35.100000Z '"code":200,"result":"answered"'
check abandoned_recorded wait_for 15 sql_is abandoned "SELECT queue_result FROM cc.calls WHERE id = '$C2' AND ended_at IS NOT NULL"
expect_eq abandoned_wait "$(q "$C2" queue_wait_ms)" 30000
expect_eq abandoned_rung_agent_not_the_calls "$(q "$C2" "agent IS NULL")" t

# --- overflowed on time from repair to general, answered there
C3=$(uuid)
offered "$C3" 2026-11-20T12:00:00.000000Z
ev "$C3" queued 2026-11-20T12:00:01.000000Z '"queue":"repair","position":1,"priority":0,"vip":false'
ev "$C3" overflowed 2026-11-20T12:05:01.000000Z '"queue":"repair","why":"max_wait","target":{"type":"queue","name":"general"},"wait_ms":300000'
ev "$C3" queued 2026-11-20T12:05:01.100000Z '"queue":"general","position":1,"priority":0,"vip":false'
ev "$C3" agent_answered 2026-11-20T12:05:20.000000Z '"queue":"general","agent":"1005","wait_ms":319000'
ev "$C3" ended 2026-11-20T12:09:00.000000Z '"code":200,"result":"answered"'
check overflow_then_answered wait_for 15 sql_is "general answered 1005" "SELECT queue || ' ' || queue_result || ' ' || agent FROM cc.calls WHERE id = '$C3' AND ended_at IS NOT NULL"

# --- a full queue: never queued, blocked; one that timed out to hang-up: overflowed
C4=$(uuid) C5=$(uuid)
offered "$C4" 2026-11-20T13:00:00.000000Z
ev "$C4" overflowed 2026-11-20T13:00:01.000000Z '"queue":"repair","why":"max_size","target":{"type":"hangup","prompt":"goodbye"},"wait_ms":0'
ev "$C4" ended 2026-11-20T13:00:04.000000Z '"code":200,"result":"answered"'
offered "$C5" 2026-11-20T13:10:00.000000Z
ev "$C5" queued 2026-11-20T13:10:01.000000Z '"queue":"repair","position":2,"priority":0,"vip":false'
ev "$C5" overflowed 2026-11-20T13:15:01.000000Z '"queue":"repair","why":"max_wait","target":{"type":"hangup"},"wait_ms":300000'
ev "$C5" ended 2026-11-20T13:15:04.000000Z '"code":200,"result":"answered"'
check blocked_recorded wait_for 15 sql_is "repair blocked" "SELECT queue || ' ' || queue_result FROM cc.calls WHERE id = '$C4' AND ended_at IS NOT NULL"
check overflowed_recorded wait_for 15 sql_is "overflowed 300000" "SELECT queue_result || ' ' || queue_wait_ms FROM cc.calls WHERE id = '$C5' AND ended_at IS NOT NULL"

# --- hostile fields dropped: a wait as text, a negative hold, a queue name
# of 100 bytes, a disposition code that is a number
C6=$(uuid)
offered "$C6" 2026-11-20T14:00:00.000000Z
ev "$C6" queued 2026-11-20T14:00:01.000000Z "\"queue\":\"$(printf 'q%.0s' $(seq 1 100))\""
ev "$C6" agent_answered 2026-11-20T14:00:02.000000Z '"queue":"repair","agent":"1001","wait_ms":"1; DROP TABLE cc.calls"'
ev "$C6" unheld 2026-11-20T14:00:03.000000Z '"agent":"1001","hold_ms":-40'
ev "$C6" disposition 2026-11-20T14:00:04.000000Z '"agent":"1001","code":486,"note":"x"'
ev "$C6" ended 2026-11-20T14:00:05.000000Z '"code":200,"result":"answered"'
check hostile_recorded wait_for 15 sql_is answered "SELECT queue_result FROM cc.calls WHERE id = '$C6' AND ended_at IS NOT NULL"
expect_eq hostile_long_queue_dropped "$(q "$C6" queue)" repair
expect_eq hostile_wait_dropped "$(q "$C6" "queue_wait_ms IS NULL")" t
expect_eq hostile_hold_dropped "$(q "$C6" "hold_ms || ' ' || holds")" "0 0"
expect_eq hostile_code_no_disposition "$(q "$C6" "disposition IS NULL")" t

# --- another tenant's ACD events about this call change nothing
new_tenant beta
T=${TID[beta]}
ev "$C1" disposition 2026-11-20T10:08:00.000000Z '"agent":"1001","code":"suggestion","note":"forged"'
ev "$C1" agent_answered 2026-11-20T10:00:59.000000Z '"queue":"forged","agent":"9999","wait_ms":1'
ev "$C1" held 2026-11-20T10:02:30.000000Z '"agent":"9999"'
FORGED=$LAST_ID
check cross_tenant_event_consumed wait_for 15 sql_is 1 "SELECT count(*) FROM cc.call_events WHERE id = '$FORGED'"
expect_eq cross_tenant_acd_unchanged "$(q "$C1" "queue || ' ' || agent || ' ' || disposition || ' ' || holds || ' ' || queue_wait_ms")" \
	"repair 1002 consultation 2 42000"
T=${TID[acme]}

exit $FAILED
