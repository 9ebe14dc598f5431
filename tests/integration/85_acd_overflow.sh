#!/usr/bin/env bash
# Overflow targets end to end (issue 14, docs/ACD.md "Refusals at
# enqueue", <target>), SIPp and baresip callers through the real stack,
# every queue's only member away (not_ready), so callers wait out
# max_wait_s (3 s): to an agent (that agent's phone rings and answers), to
# a number (out through the carrier: a SIPp UAS sees the INVITE), to a
# flow (the caller hears the flow's prompt, a tone of its own), hangup
# with a prompt (heard, then the platform hangs up); on max_size (blocked,
# counted); "no agents" when every member is logged out. Each an
# overflowed event with its why and target, and the record's queue_result.
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
for f in 250 330 700; do tone_wav "$AUD/$f.wav" "$f" 120; done
tone_wav "$AUD/sorry.wav" 900 3
tone_wav "$AUD/closing.wav" 1100 3

# ------------------------------------------------------------------ setup
new_tenant acme
for e in 1001 1002 1003; do new_agent acme $e acme-pass-$e; done
A=${TID[acme]}
CARRIER=$(pick_port) PSTN=$(pick_port)
new_trunk carrier1 "$CARRIER"
# one trunk per SIPp caller (some overlap: each binds its own port)
declare -A PORT
for t in ag nu sz1 sz2 na; do PORT[$t]=$(pick_port); new_trunk "caller-$t" "${PORT[$t]}"; done
new_trunk pstn-out "$(pick_port)" "$PSTN"
prompt_put() { # NAME FILE
	RESP=$CC_VAR/resp.json
	HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[acme]}" \
	       -H "Content-Type: audio/wav" --data-binary "@$2" "$API/v1/tenants/acme/prompts/$1")
	check "prompt_$1" [ "$HTTP" = 201 ] || cat "$RESP"
}
prompt_put sorry "$AUD/sorry.wav"
prompt_put closing "$AUD/closing.wav"
api PUT /v1/tenants/acme/flows/ovf "${KEY[acme]}" \
	'{"start":"sorry","nodes":{"sorry":{"type":"play","prompts":["sorry"],"next":"bye"},"bye":{"type":"hangup"}}}'
check flow_put [ "$HTTP" = 201 -o "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
MAIN=+8657100000009
assign_number acme "$MAIN"
check pstn_enabled pstn_enable acme "$MAIN"
queue() { # JSON
	api POST /v1/tenants/acme/queues "${KEY[acme]}" "$1"
	check "queue_$(jq -r .name <<< "$1")" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
}
Q='"strategy":"longest_idle","ring_timeout_s":5,"wrapup_s":0'
queue "{\"name\":\"toagent\",$Q,\"max_wait_s\":3,\"overflow\":{\"type\":\"agent\",\"extension\":\"1002\"}}"
queue "{\"name\":\"tonumber\",$Q,\"max_wait_s\":3,\"overflow\":{\"type\":\"number\",\"number\":\"+8613912345678\"}}"
queue "{\"name\":\"toflow\",$Q,\"max_wait_s\":3,\"overflow\":{\"type\":\"flow\",\"name\":\"ovf\"}}"
queue "{\"name\":\"tohangup\",$Q,\"max_wait_s\":3,\"overflow\":{\"type\":\"hangup\",\"prompt\":\"closing\"}}"
queue "{\"name\":\"small\",$Q,\"max_wait_s\":0,\"max_size\":1,\"overflow\":{\"type\":\"hangup\"}}"
queue "{\"name\":\"empty\",$Q,\"max_wait_s\":0,\"overflow\":{\"type\":\"hangup\",\"prompt\":\"closing\"}}"
members() { # EXT JSON
	api PATCH "/v1/tenants/acme/agents/$1" "${KEY[acme]}" "{\"queues\":$2}"
	check "members_$1" [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
}
# 1001 (signed in, away) in all but empty; 1003 (never registered,
# logged out) the only member of empty; 1002 in none: the agent target
members 1001 '{"toagent":1,"tonumber":1,"toflow":1,"tohangup":1,"small":1}'
members 1003 '{"empty":1}'
declare -A NUM=([toagent]=+8657100000001 [tonumber]=+8657100000002 [toflow]=+8657100000003
                [tohangup]=+8657100000004 [small]=+8657100000005 [empty]=+8657100000006)
for q in "${!NUM[@]}"; do
	assign_number acme "${NUM[$q]}"
	api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"${NUM[$q]}\",\"target\":{\"type\":\"queue\",\"name\":\"$q\"}}"
	check "number_$q" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
done

# baresip callers for the cases that judge what the caller hears
declare -A FROM=([flow]=+8613800000003 [hangup]=+8613800000004)
for c in flow hangup; do
	BS_SIP[c-$c]=$(pick_port 2)
	new_trunk "caller-$c" "${BS_SIP[c-$c]}"
	bs_peer "c-$c" "$AUD/700.wav" "${FROM[$c]}"
done
bs_start a1 "$AUD/250.wav" 1001 acme.cc.test acme-pass-1001
bs_start a2 "$AUD/330.wav" 1002 acme.cc.test acme-pass-1002
check registered_1001 wait_for 15 registered 1001@acme.cc.test
check registered_1002 wait_for 15 registered 1002@acme.cc.test
check mediad_alive wait_for 20 media_alive 1
check trunks_known wait_for 20 trunk_known "${BS_SIP[c-hangup]}"

curl -sk -N -H "Authorization: Bearer ${KEY[acme]}" "$API/v1/tenants/acme/events" > "$SIPW/sse.out" 2>/dev/null &
SSE_PID=$!
state() { # EXT STATE [REASON]
	api PUT "/v1/tenants/acme/agents/$1/state" "${KEY[acme]}" "{\"state\":\"$2\"${3:+,\"reason\":\"$3\"}}"
	[ "$HTTP" = 200 ]
}
check a1_away state 1001 not_ready lunch
check a2_ready state 1002 ready
# caller TAG NUMBER FROM SECONDS: a SIPp carrier caller in the background
# (it may be hung up on: its result is not judged)
caller() {
	(sipp_run "caller-$1" -sf "$SIPP_DIR/carrier_call.xml" -s "$2" -set from "$3" -p "${PORT[$1]}" \
		-default_behaviors all,-abortunexp -m 1 -d "$(( $4 * 1000 ))" -timeout "$(( $4 + 15 ))" -timeout_error) &
	CALLER_PID=$!
	SIPP_PIDS="$SIPP_PIDS $CALLER_PID"
}
rec_of() { # FROM
	sql "SELECT COALESCE(queue, '-') || ' ' || COALESCE(queue_result, '-') || ' ' || COALESCE(agent, '-')
	     FROM cc.calls WHERE from_number = '$1' AND direction = 'inbound' AND ended_at IS NOT NULL
	     ORDER BY started_at DESC LIMIT 1"
}
rec_is() { [ "$(rec_of "$1")" = "$2" ]; }
# call_of FROM: the caller's queue call (the call mediad answered)
call_of() { sql "SELECT id FROM cc.calls WHERE from_number = '$1' AND queue IS NOT NULL ORDER BY started_at DESC LIMIT 1"; }
# overflow_of FROM: the overflowed event as the tenant's SSE stream has it
# ("why target.type target.name target.prompt wait>=3s"; the call record
# keeps no target: billingd takes only the fields it folds)
overflow_of() {
	grep -a '^data: ' "$SIPW/sse.out" | sed 's/^data: //' | jq -r --arg c "$(call_of "$1")" \
		'select(.type == "overflowed" and .call == $c) | "\(.why) \(.target.type) \(.target.name // "") \(.target.prompt // "") \(.wait_ms >= 3000)"' 2>/dev/null
}
overflow_is() { [ "$(overflow_of "$1")" = "$2" ]; }
# why_of FROM: the overflowed event's "why" as the call's events keep it
why_of() { sql "SELECT body->>'why' FROM cc.call_events WHERE type = 'overflowed' AND call_id = '$(call_of "$1")'"; }
why_is() { [ "$(why_of "$1")" = "$2" ]; }

# ------------------------------------------------- on time, to an agent
a20=$(answered_n a2)
echo "# ${SECONDS}s: to an agent"
caller ag "${NUM[toagent]}" +8613800000001 7
check agent_target_rings_and_answers wait_for 20 n_is_past a2 "$a20"
rec_like() { [[ "$(rec_of "$1")" == $2 ]]; }
check agent_target_record wait_for 40 rec_like +8613800000001 "toagent overflowed *" || echo "# $(rec_of +8613800000001)"
check agent_target_event wait_for 10 overflow_is +8613800000001 "max_wait agent 1002  true" || echo "# $(overflow_of +8613800000001)"
check agent_target_in_call_events why_is +8613800000001 max_wait
check agent_target_not_rung_first [ "$(grep -ac 'Incoming call from' "$SIPW/bs/a1/out")" = 0 ]

# ------------------------------------------------- on time, to a number
(cd "$SIPW" && exec timeout -s KILL 40 sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/pstn_uas.xml" \
	-p "$PSTN" -m 1 -trace_msg -message_file pstn-out.log -nostdin -timeout 35 > pstn-out.out 2>&1) &
SIPP_PIDS="$SIPP_PIDS $!"
wait_for 5 ss_bound_udp "$PSTN"
echo "# ${SECONDS}s: to a number"
caller nu "${NUM[tonumber]}" +8613800000002 7
check number_target_carrier_invited wait_for 20 grep -q '^INVITE sip:+8613912345678@' "$SIPW/pstn-out.log"
check number_target_no_x_cc not grep -q '^X-CC-' "$SIPW/pstn-out.log"
check number_target_record wait_for 40 rec_is +8613800000002 "tonumber overflowed -"
check number_target_event wait_for 10 overflow_is +8613800000002 "max_wait number +8613912345678  true" || echo "# $(overflow_of +8613800000002)"

# ------------------------------ on time, to a flow; hangup with a prompt
echo "# ${SECONDS}s: to a flow, hangup"
bs_cmd c-flow dial "sip:${NUM[toflow]}@127.0.0.1:$CC_SIP_PORT"
bs_cmd c-hangup dial "sip:${NUM[tohangup]}@127.0.0.1:$CC_SIP_PORT"
check flow_caller_in_call wait_for 15 bs_in_call c-flow
check hangup_caller_in_call wait_for 15 bs_in_call c-hangup
# 3 s of music, the 3 s prompt, then the platform hangs up
check flow_target_hung_up wait_for 20 bs_ended c-flow
check hangup_target_hung_up wait_for 20 bs_ended c-hangup
sleep 0.5
echo "# flow caller heard: $(freqs "$(bs_heard c-flow)")"
echo "# hangup caller heard: $(freqs "$(bs_heard c-hangup)")"
check flow_target_prompt_heard has_freq "$(bs_heard c-flow)" 900
check hangup_target_prompt_heard has_freq "$(bs_heard c-hangup)" 1100
ends_near() { # FILE HZ: its last 3 loud 0.5 s are HZ (the prompt, then the hang-up)
	local x n=0
	for x in $(freqs "$1" | tr ' ' '\n' | grep -E '^[0-9]' | tail -3); do
		awk -v f="$x" -v w="$2" 'BEGIN { d = f - w; if (d < 0) d = -d; exit !(d * 100 <= w * 5) }' || return 1
		n=$((n + 1))
	done
	[ "$n" = 3 ]
}
check flow_target_prompt_last ends_near "$(bs_heard c-flow)" 900
check hangup_target_prompt_last ends_near "$(bs_heard c-hangup)" 1100
check flow_target_record wait_for 40 rec_is "${FROM[flow]}" "toflow overflowed -"
check flow_target_event wait_for 10 overflow_is "${FROM[flow]}" "max_wait flow ovf  true" || echo "# $(overflow_of "${FROM[flow]}")"
check flow_target_ivr_node [ "$(sql "SELECT count(*) FROM cc.call_events WHERE type = 'ivr' AND body->>'node' = 'sorry' AND call_id = '$(call_of "${FROM[flow]}")'")" -ge 1 ]
check hangup_target_record wait_for 40 rec_is "${FROM[hangup]}" "tohangup overflowed -"
check hangup_target_event wait_for 10 overflow_is "${FROM[hangup]}" "max_wait hangup  closing true" || echo "# $(overflow_of "${FROM[hangup]}")"

# ------------------------------------------------------------ on max_size
b0=$(routing_metric cc_routing_acd_blocked_total)
echo "# ${SECONDS}s: on max_size"
caller sz1 "${NUM[small]}" +8613800000005 10
waiting() { # QUEUE N
	api GET "/v1/tenants/acme/queues/$1/live" "${KEY[acme]}"
	[ "$HTTP" = 200 ] && [ "$(jr '.waiting | length')" = "$2" ]
}
check small_one_waiting wait_for 20 waiting small 1
caller sz2 "${NUM[small]}" +8613800000006 4
check size_event wait_for 15 overflow_is +8613800000006 "max_size hangup  goodbye false"
check size_first_still_waiting waiting small 1
check size_blocked_counted [ "$(routing_metric cc_routing_acd_blocked_total)" -gt "${b0:-0}" ]
api GET /v1/tenants/acme/queues/small/live "${KEY[acme]}"
check size_live_counts_overflowed [ "$(jr '.counters.overflowed')" -ge 1 ] || echo "# $(jq -c .counters "$RESP")"
check size_blocked_record wait_for 40 rec_is +8613800000006 "small blocked -"

# ------------------------------------- no agents: every member logged out
echo "# ${SECONDS}s: no agents"
caller na "${NUM[empty]}" +8613800000007 4
check no_agents_event wait_for 30 overflow_is +8613800000007 "no agents hangup  closing false"
check no_agents_record_blocked wait_for 40 rec_is +8613800000007 "empty blocked -"
check no_agents_1001_never_rung [ "$(grep -ac 'Incoming call from' "$SIPW/bs/a1/out")" = 0 ]

echo "# ${SECONDS}s: done"
exit $FAILED
