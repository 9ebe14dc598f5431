#!/usr/bin/env bash
# The ACD end to end (issue 14, docs/ACD.md) through the real stack:
# carrier callers (SIPp) call a number whose target is a queue; mediad holds
# them with the queue's music; routingd offers them to baresip agents (each
# answering automatically, or never: RONA). Cases, most central first:
# longest_idle with two agents (the longest idle answers first, then the
# other), the record (queue, result, wait, agent); a caller waiting while no
# agent is ready shows in the live view, and is answered as soon as one goes
# ready; RONA: an agent who does not answer is passed over to the next and,
# after two misses, is not_ready "missed_calls"; two tenants with the same
# queue name and extensions never see each other's callers. Memberships
# and queue numbers are set through the API (a membership in a queue the
# tenant does not have is 422).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
BUILD=${CC_BUILD:-$TOP/build}
if [ ! -x "$BUILD/media/mediad" ]; then
	echo "# skip: $BUILD/media/mediad is not built"
	exit 0
fi
trap 'bs_stop_all; stack_down' EXIT
stack_up || exit 1
AUD=$SIPW/audio; mkdir -p "$AUD"
for f in 250 330 440; do tone_wav "$AUD/$f.wav" "$f" 120; done

# ------------------------------------------------------------------ setup
new_tenant acme
new_tenant beta
for e in 1001 1002 1003; do new_agent acme $e acme-pass-$e; done
new_agent beta 1001 beta-pass-1001
CARRIER=$(pick_port)
new_trunk carrier1 "$CARRIER"
queue() { # SLUG JSON
	api POST "/v1/tenants/$1/queues" "${KEY[$1]}" "$2"
	check "queue_$1_$(jq -r .name <<< "$2")" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
}
queue acme '{"name":"repair","strategy":"longest_idle","ring_timeout_s":5,"wrapup_s":0,"max_wait_s":0,"announce":{"position":true,"wait":false,"every_s":30}}'
queue acme '{"name":"rona","strategy":"longest_idle","ring_timeout_s":5,"wrapup_s":0,"max_wait_s":0}'
queue beta '{"name":"repair","strategy":"longest_idle","ring_timeout_s":5,"wrapup_s":0,"max_wait_s":0}'
A=${TID[acme]} B=${TID[beta]}
# memberships and queue numbers through the API (each write a notice:
# routingd reads the tenant again)
members() { # SLUG EXT JSON
	api PATCH "/v1/tenants/$1/agents/$2" "${KEY[$1]}" "{\"queues\":$3}"
	check "members_$1_$2" [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
}
members acme 1001 '{"repair":1,"rona":2}'
members acme 1002 '{"repair":1}'
members acme 1003 '{"rona":1}'
members beta 1001 '{"repair":1}'
# a membership in another tenant's queue: refused, nothing stored
api PATCH /v1/tenants/acme/agents/1002 "${KEY[acme]}" '{"queues":{"repair":1,"nosuch":1}}'
check member_unknown_queue_422 [ "$HTTP" = 422 ]
queue_number() { # SLUG E164 QUEUE
	assign_number "$1" "$2" || return 1
	api POST "/v1/tenants/$1/numbers" "${KEY[$1]}" "{\"e164\":\"$2\",\"target\":{\"type\":\"queue\",\"name\":\"$3\"}}"
	check "number_$1_$3" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
}
NA=+8657100000001 NR=+8657100000002 NB=+8657100000003
queue_number acme "$NA" repair
queue_number acme "$NR" rona
queue_number beta "$NB" repair
new_agent acme 1009 acme-pass-1009
new_agent beta 1009 beta-pass-1009

bs_start a1 "$AUD/250.wav" 1001 acme.cc.test acme-pass-1001
bs_start a2 "$AUD/330.wav" 1002 acme.cc.test acme-pass-1002
bs_start a3 "$AUD/440.wav" 1003 acme.cc.test acme-pass-1003 manual
bs_start b1 "$AUD/250.wav" 1001 beta.cc.test beta-pass-1001
for u in 1001@acme 1002@acme 1003@acme 1001@beta; do
	check "registered_${u/@/_}" wait_for 15 registered "$u.cc.test"
done
check mediad_alive wait_for 20 media_up

state() { # SLUG EXT STATE [REASON]
	api PUT "/v1/tenants/$1/agents/$2/state" "${KEY[$1]}" \
		"{\"state\":\"$3\"${4:+,\"reason\":\"$4\"}}"
	[ "$HTTP" = 200 ]
}
state_is() { # SLUG EXT STATE [REASON]
	api GET "/v1/tenants/$1/agents/$2/state" "${KEY[$1]}"
	[ "$HTTP" = 200 ] && [ "$(jr '.state + " " + (.reason // "")')" = "$3 ${4:-}" ]
}
# caller TAG NUMBER FROM SECONDS: a carrier caller in the background
caller() {
	local port; port=$(pick_port)
	new_trunk "caller-$1" "$port" > /dev/null
	wait_for 20 trunk_known "$port"
	(sipp_run "caller-$1" -sf "$SIPP_DIR/carrier_call.xml" -s "$2" -set from "$3" -p "$port" \
		-default_behaviors all,-abortunexp -m 1 -d "$(( $4 * 1000 ))" -timeout "$(( $4 + 15 ))" -timeout_error) &
	SIPP_PIDS="$SIPP_PIDS $!"
}
rec_of() { # FROM: the caller's inbound record as TEXT (queue result agent)
	sql "SELECT queue || ' ' || queue_result || ' ' || COALESCE(agent, '-') FROM cc.calls
	     WHERE from_number = '$1' AND direction = 'inbound' AND ended_at IS NOT NULL
	     ORDER BY started_at DESC LIMIT 1"
}
rec_is() { [ "$(rec_of "$1")" = "$2" ]; }

# --------------------------------------- longest_idle with two agents
check a1_ready state acme 1001 ready
sleep 1
check a2_ready state acme 1002 ready
check a1_state_ready state_is acme 1001 ready
caller c1 "$NA" +8613800000001 8
check c1_to_longest_idle_1001 wait_for 20 n_is_past a1 0
check c1_not_to_1002 [ "$(answered_n a2)" = 0 ]
caller c2 "$NA" +8613800000002 4
check c2_to_1002 wait_for 20 n_is_past a2 0
check c1_record wait_for 30 rec_is +8613800000001 "repair answered 1001"
check c2_record wait_for 30 rec_is +8613800000002 "repair answered 1002"
wait_ms=$(sql "SELECT queue_wait_ms FROM cc.calls WHERE from_number = '+8613800000001' AND queue IS NOT NULL LIMIT 1")
check c1_wait_recorded [ -n "$wait_ms" ] && [ "$wait_ms" -ge 0 ] && [ "$wait_ms" -lt 15000 ]

# ---------------------- waiting while nobody is ready: live view, then answered
check a1_not_ready state acme 1001 not_ready lunch
check a2_not_ready state acme 1002 not_ready break
check a1_lunch state_is acme 1001 not_ready lunch
caller c3 "$NA" +8613800000003 25
waiting() { # SLUG QUEUE N
	api GET "/v1/tenants/$1/queues/$2/live" "${KEY[$1]}"
	[ "$HTTP" = 200 ] && [ "$(jr '.waiting | length')" = "$3" ]
}
check live_shows_waiting wait_for 20 waiting acme repair 1
check live_caller_number [ "$(jr '.waiting[0].caller')" = +8613800000003 ]
check live_position_1 [ "$(jr '.waiting[0].position')" = 1 ]
# the same queue name in beta: none of acme's callers
check beta_live_empty waiting beta repair 0
api GET /v1/tenants/beta/agents/live "${KEY[beta]}"
check beta_agents_live_own [ "$(jr '[.agents[].extension] | join(",")')" = 1001,1009 ]
b0=$(answered_n b1)
check beta_1001_ready state beta 1001 ready
sleep 2
check beta_1001_not_rung_for_acme [ "$(answered_n b1)" = "$b0" ]
a10=$(answered_n a1)
check a1_ready_again state acme 1001 ready
check c3_answered_when_ready wait_for 15 n_is_past a1 "$a10"
check live_empty_after_answer wait_for 10 waiting acme repair 0
check c3_record wait_for 45 rec_is +8613800000003 "repair answered 1001"

# beta's own caller goes to beta's 1001 only
a10=$(answered_n a1)
caller b1c "$NB" +8613800000009 3
check beta_caller_to_beta_1001 wait_for 20 n_is_past b1 "$b0"
check beta_caller_not_to_acme [ "$(answered_n a1)" = "$a10" ]
check beta_record wait_for 30 rec_is +8613800000009 "repair answered 1001"
check beta_record_tenant [ "$(sql "SELECT tenant_id FROM cc.calls WHERE from_number = '+8613800000009' AND queue IS NOT NULL LIMIT 1")" = "$B" ]

# ------------------------------------------------------------- RONA
check a2_stays_away state acme 1002 not_ready break
check a1_away state acme 1001 not_ready lunch
check a3_ready state acme 1003 ready
sleep 1
check a1_ready_for_rona state acme 1001 ready
a10=$(answered_n a1)
caller r1 "$NR" +8613800000004 20
rang() { local n; n=$(grep -ac 'Incoming call from' "$SIPW/bs/a3/out" 2>/dev/null); echo "${n:-0}"; }
rang_past() { [ "$(rang)" -gt "$1" ]; }
check rona_1003_rang wait_for 20 rang_past 0
check rona_next_agent_answers wait_for 20 n_is_past a1 "$a10"
check rona_record wait_for 30 rec_is +8613800000004 "rona answered 1001"
# a second miss in a row: not_ready missed_calls
check a1_away_again state acme 1001 not_ready lunch
r0=$(rang)
caller r2 "$NR" +8613800000005 25
check rona_1003_rang_again wait_for 20 rang_past "$r0"
check rona_two_misses_missed_calls wait_for 20 state_is acme 1003 not_ready missed_calls
check a1_back state acme 1001 ready
check rona_r2_answered wait_for 30 rec_is +8613800000005 "rona answered 1001"

exit $FAILED
