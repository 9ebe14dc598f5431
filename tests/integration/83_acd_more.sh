#!/usr/bin/env bash
# More of the ACD end to end (issue 14, docs/ACD.md), SIPp callers and
# baresip agents through the real stack: ring_all with two agents answering
# at once (one wins, the other's leg ends), the sticky agent (a caller goes
# back to the agent who answered it last, ahead of the longest idle), a VIP
# ahead of a queue of 5, overflow on size (blocked) and on time (to another
# queue, answered there), and the SSE stream of the tenant's events (its
# own only).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
BUILD=${CC_BUILD:-$TOP/build}
if [ ! -x "$BUILD/media/mediad" ]; then
	echo "# skip: $BUILD/media/mediad is not built"
	exit 0
fi
trap 'bs_stop_all; [ -n "${SSE_PID:-}" ] && kill "$SSE_PID" 2>/dev/null; stack_down' EXIT
stack_up || exit 1
AUD=$SIPW/audio; mkdir -p "$AUD"
for f in 250 330; do tone_wav "$AUD/$f.wav" "$f" 120; done

new_tenant acme
new_tenant beta
for e in 1001 1002; do new_agent acme $e acme-pass-$e; done
CARRIER=$(pick_port)
new_trunk carrier1 "$CARRIER"
A=${TID[acme]}
queue() { # JSON
	api POST /v1/tenants/acme/queues "${KEY[acme]}" "$1"
	check "queue_$(jq -r .name <<< "$1")" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
}
queue '{"name":"all","strategy":"ring_all","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0}'
queue '{"name":"sticky","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0,"sticky":{"within_days":30,"ring_s":10}}'
queue '{"name":"vipq","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0}'
queue '{"name":"general","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0}'
queue '{"name":"small","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0,"max_size":1,"overflow":{"type":"hangup"}}'
queue '{"name":"timed","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":10,"overflow":{"type":"queue","name":"general"}}'
qid() { sql "SELECT id FROM cc.queues WHERE tenant_id = '$A' AND name = '$1'"; }
member() { # QUEUE EXT
	sql "INSERT INTO cc.queue_members (tenant_id, queue_id, agent_id)
	     SELECT '$A', '$(qid "$1")', id FROM cc.agents WHERE tenant_id = '$A' AND extension = '$2'" > /dev/null
}
for q in all sticky vipq general small; do member $q 1001; member $q 1002; done
member timed 1001          # away then: its callers wait out max_wait_s
declare -A NUM=([all]=+8657100000001 [sticky]=+8657100000002 [vipq]=+8657100000003
                [small]=+8657100000004 [timed]=+8657100000005)
for q in "${!NUM[@]}"; do
	assign_number acme "${NUM[$q]}"
	sql "UPDATE cc.numbers SET target_type = 'queue', target_queue = '$(qid "$q")' WHERE e164 = '${NUM[$q]}'" > /dev/null
done
api POST /v1/tenants/acme/viplist "${KEY[acme]}" '{"e164":"+8613900000888","priority":10}'
check vip_listed [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"

bs_start a1 "$AUD/250.wav" 1001 acme.cc.test acme-pass-1001
bs_start a2 "$AUD/330.wav" 1002 acme.cc.test acme-pass-1002
check registered_1001 wait_for 15 registered 1001@acme.cc.test
check registered_1002 wait_for 15 registered 1002@acme.cc.test
check mediad_alive wait_for 20 media_alive 1

# the tenant's event stream, from now on
curl -sk -N -H "Authorization: Bearer ${KEY[acme]}" "$API/v1/tenants/acme/events" > "$SIPW/sse.out" 2>/dev/null &
SSE_PID=$!
curl -sk -N -H "Authorization: Bearer ${KEY[beta]}" "$API/v1/tenants/beta/events" > "$SIPW/sse-beta.out" 2>/dev/null &
SSE_B=$!

state() { # EXT STATE [REASON]
	api PUT "/v1/tenants/acme/agents/$1/state" "${KEY[acme]}" "{\"state\":\"$2\"${3:+,\"reason\":\"$3\"}}"
	[ "$HTTP" = 200 ]
}
caller() { # TAG NUMBER FROM SECONDS
	local port; port=$(pick_port)
	new_trunk "caller-$1" "$port" > /dev/null
	wait_for 20 trunk_known "$port"
	(sipp_run "caller-$1" -sf "$SIPP_DIR/carrier_call.xml" -s "$2" -set from "$3" -p "$port" \
		-default_behaviors all,-abortunexp -m 1 -d "$(( $4 * 1000 ))" -timeout "$(( $4 + 20 ))" -timeout_error) &
	SIPP_PIDS="$SIPP_PIDS $!"
}
waiting() { # QUEUE N
	api GET "/v1/tenants/acme/queues/$1/live" "${KEY[acme]}"
	[ "$HTTP" = 200 ] && [ "$(jr '.waiting | length')" = "$2" ]
}
rec_of() { # FROM
	sql "SELECT COALESCE(queue, '-') || ' ' || COALESCE(queue_result, '-') || ' ' || COALESCE(agent, '-')
	     FROM cc.calls WHERE from_number = '$1' AND direction = 'inbound' AND ended_at IS NOT NULL
	     ORDER BY started_at DESC LIMIT 1"
}
rec_is() { [ "$(rec_of "$1")" = "$2" ]; }
rec_like() { [[ "$(rec_of "$1")" == $2 ]]; }

# ------------------------------------------- ring_all, both answer at once
check a1_ready state 1001 ready
check a2_ready state 1002 ready
caller ra "${NUM[all]}" +8613800000001 8
# both legs answered (their 200 OK, in the call record): baresip's own
# "Call established" is no sign of it, the loser's BYE comes in with the
# ACK, and baresip then prints neither that nor its incoming call
ra_legs() {
	sql "SELECT count(*) FROM cc.calls WHERE answered_at IS NOT NULL AND parent_call =
	     (SELECT id FROM cc.calls WHERE from_number = '+8613800000001' AND queue IS NOT NULL LIMIT 1)"
}
both_answered() { [ "$(ra_legs)" = 2 ]; }
check ring_all_both_answered wait_for 20 both_answered
check ring_all_one_record wait_for 40 rec_like +8613800000001 "all answered 100[12]"
winner=$(rec_of +8613800000001 | cut -d' ' -f3)
loser=$([ "$winner" = 1001 ] && echo a2 || echo a1)
check ring_all_loser_leg_ended wait_for 10 bs_ended "$loser"
legs=$(ra_legs)
echo "# ring_all: $legs agent legs answered, $winner won"
check ring_all_one_answer_recorded [ "$(sql "SELECT count(*) FROM cc.call_events WHERE type = 'agent_answered' AND call_id = (SELECT id FROM cc.calls WHERE from_number = '+8613800000001' AND queue IS NOT NULL LIMIT 1)")" = 1 ]

# ---------------------------------- sticky: back to the last answering agent
# the longest idle is the one that did not win; the sticky caller's last
# agent was the winner
sleep 1
s10=$(answered_n a1) s20=$(answered_n a2)
caller st "${NUM[sticky]}" +8613800000001 4
check sticky_back_to_winner wait_for 40 rec_is +8613800000001 "sticky answered $winner"

# ------------------------------------------------ VIP ahead of a queue of 5
check a1_away state 1001 not_ready lunch
check a2_away state 1002 not_ready lunch
for i in 1 2 3 4 5; do caller "v$i" "${NUM[vipq]}" "+861380000002$i" 40; done
check five_waiting wait_for 40 waiting vipq 5
caller vip "${NUM[vipq]}" +8613900000888 30
check vip_waiting wait_for 20 waiting vipq 6
check vip_first [ "$(jr '.waiting[0].caller + " " + (.waiting[0].position | tostring)')" = "+8613900000888 1" ]
check regular_second [ "$(jr '.waiting[1].caller')" = +8613800000021 ]
check a1_ready_for_vip state 1001 ready
check vip_answered_first wait_for 30 rec_is +8613900000888 "vipq answered 1001"
check a1_away_after_vip state 1001 not_ready lunch

# ----------------------------------------------- overflow on size and on time
caller sz1 "${NUM[small]}" +8613800000031 20
check small_one_waiting wait_for 20 waiting small 1
caller sz2 "${NUM[small]}" +8613800000032 20
check small_second_blocked wait_for 40 rec_is +8613800000032 "small blocked -"
check a2_ready_for_general state 1002 ready
caller tm "${NUM[timed]}" +8613800000041 40
check timed_overflow_answered_in_general wait_for 60 rec_is +8613800000041 "general answered 1002"
check timed_overflow_event [ "$(sql "SELECT body->>'why' FROM cc.call_events WHERE type = 'overflowed' AND call_id = (SELECT id FROM cc.calls WHERE from_number = '+8613800000041' AND queue IS NOT NULL LIMIT 1)")" = max_wait ]

# ------------------------------------------- an IVR's queue node
api PUT /v1/tenants/acme/flows/viaivr "${KEY[acme]}" \
	'{"start":"q","nodes":{"q":{"type":"queue","queue":"general","priority":5,"fallback":"bye"},"bye":{"type":"hangup"}}}'
check ivr_flow_put [ "$HTTP" = 201 -o "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
assign_number acme +8657100000006
api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657100000006","target":{"type":"flow","name":"viaivr"}}'
check ivr_number [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
caller iv +8657100000006 +8613800000051 6
check ivr_queue_node_answered wait_for 40 rec_is +8613800000051 "general answered 1002"

# ------------------------------------------------------- the event stream
check sse_has_agent_events grep -q '^event: ready' "$SIPW/sse.out"
check sse_has_queued grep -q '^event: queued' "$SIPW/sse.out"
check sse_has_ids grep -q '^id: [0-9]' "$SIPW/sse.out"
check sse_own_tenant_only not grep -q "\"tenant\":\"${TID[beta]}\"" "$SIPW/sse.out"
check sse_beta_sees_nothing_of_acme not grep -q "\"tenant\":\"$A\"" "$SIPW/sse-beta.out"
kill "$SSE_B" 2>/dev/null

exit $FAILED
