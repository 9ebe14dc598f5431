#!/usr/bin/env bash
# Every distribution strategy end to end (issue 14, docs/ACD.md "The
# runtime's decisions"), SIPp callers and baresip agents through the real
# stack. Each case orders the agents' idle times (not_ready then ready, one
# after the other) so that the strategy's choice differs from the longest
# idle: a strategy ignored (longest_idle instead) fails the check.
# round_robin (member order, after the last offered), fewest_calls,
# least_talk_time, random (more than one agent over 6 calls, never a member
# lacking the queue's skill), skills (best sum of levels first; a member
# below the required level is never offered; an IVR queue node's skill adds
# to the queue's), and the sticky agent not after sticky.within_days (the
# record aged in SQL, routingd restarted: the sticky map is seeded from
# cc.calls at start), while a caller within the window is seeded back to
# its agent.
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
for f in 250 330 440 550; do tone_wav "$AUD/$f.wav" "$f" 120; done

# ------------------------------------------------------------------ setup
new_tenant acme
for e in 1001 1002 1003 1004; do new_agent acme $e acme-pass-$e; done
CARRIER=$(pick_port)
new_trunk carrier1 "$CARRIER"
A=${TID[acme]}
queue() { # JSON
	api POST /v1/tenants/acme/queues "${KEY[acme]}" "$1"
	check "queue_$(jq -r .name <<< "$1")" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
}
Q='"ring_timeout_s":5,"wrapup_s":0,"max_wait_s":0'
queue "{\"name\":\"rr\",\"strategy\":\"round_robin\",$Q}"
queue "{\"name\":\"fc\",\"strategy\":\"fewest_calls\",$Q}"
queue "{\"name\":\"lt\",\"strategy\":\"least_talk_time\",$Q}"
queue "{\"name\":\"rnd\",\"strategy\":\"random\",$Q,\"required_skills\":{\"general\":1}}"
queue "{\"name\":\"sk\",\"strategy\":\"skills\",$Q,\"required_skills\":{\"repair\":2}}"
queue "{\"name\":\"st\",\"strategy\":\"longest_idle\",$Q,\"sticky\":{\"within_days\":1,\"ring_s\":5}}"
agent() { # EXT JSON (skills and queues)
	api PATCH "/v1/tenants/acme/agents/$1" "${KEY[acme]}" "$2"
	check "agent_$1" [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
}
# 1003 is below sk's repair level, 1004 has none of the skills rnd and sk require
agent 1001 '{"skills":{"general":1,"repair":2,"mandarin":4},"queues":{"rr":1,"fc":1,"lt":1,"rnd":1,"sk":1,"st":1}}'
agent 1002 '{"skills":{"general":1,"repair":4,"mandarin":1},"queues":{"rr":1,"fc":1,"lt":1,"rnd":1,"sk":1,"st":1}}'
agent 1003 '{"skills":{"general":1,"repair":1},"queues":{"rr":1,"fc":1,"lt":1,"rnd":1,"sk":1}}'
agent 1004 '{"skills":{"other":5},"queues":{"rnd":1,"sk":1}}'
declare -A NUM=([rr]=+8657100000001 [fc]=+8657100000002 [lt]=+8657100000003
                [rnd]=+8657100000004 [sk]=+8657100000005 [st]=+8657100000006)
for q in rr fc lt rnd sk st; do
	assign_number acme "${NUM[$q]}"
	api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"${NUM[$q]}\",\"target\":{\"type\":\"queue\",\"name\":\"$q\"}}"
	check "number_$q" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
done
# an IVR's queue node asking for mandarin besides the queue's repair
api PUT /v1/tenants/acme/flows/mandarin "${KEY[acme]}" \
	'{"start":"q","nodes":{"q":{"type":"queue","queue":"sk","skills":{"mandarin":1},"fallback":"bye"},"bye":{"type":"hangup"}}}'
check ivr_flow_put [ "$HTTP" = 201 -o "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
NIVR=+8657100000007
assign_number acme "$NIVR"
api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"$NIVR\",\"target\":{\"type\":\"flow\",\"name\":\"mandarin\"}}"
check ivr_number [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"

bs_start a1 "$AUD/250.wav" 1001 acme.cc.test acme-pass-1001
bs_start a2 "$AUD/330.wav" 1002 acme.cc.test acme-pass-1002
bs_start a3 "$AUD/440.wav" 1003 acme.cc.test acme-pass-1003
bs_start a4 "$AUD/550.wav" 1004 acme.cc.test acme-pass-1004
for e in 1001 1002 1003 1004; do check "registered_$e" wait_for 15 registered "$e@acme.cc.test"; done
check mediad_alive wait_for 20 media_alive 1
check trunk_known wait_for 20 trunk_known "$CARRIER"

state() { # EXT STATE [REASON]
	api PUT "/v1/tenants/acme/agents/$1/state" "${KEY[acme]}" "{\"state\":\"$2\"${3:+,\"reason\":\"$3\"}}"
	[ "$HTTP" = 200 ]
}
state_is() { # EXT STATE
	api GET "/v1/tenants/acme/agents/$1/state" "${KEY[acme]}"
	[ "$HTTP" = 200 ] && [ "$(jr .state)" = "$2" ]
}
# order EXT...: these ready in this order (the first the longest idle),
# every other agent not_ready
order() {
	local e
	for e in 1001 1002 1003 1004; do state "$e" not_ready break || echo "# $e not_ready: $HTTP"; done
	for e in "$@"; do
		sleep 0.3
		state "$e" ready || echo "# $e ready: $HTTP $(cat "$RESP")"
	done
	sleep 0.3
}
ext_of() { case $1 in a1) echo 1001 ;; a2) echo 1002 ;; a3) echo 1003 ;; a4) echo 1004 ;; esac; }
# qcall TAG NUMBER FROM MS: a carrier caller staying MS after mediad's
# answer (the caller hangs up then); GOT is what agents answered it
NCALL=0
qcall() {
	local before=() p i=0 got=""
	for p in a1 a2 a3 a4; do before+=("$(answered_n $p)"); done
	NCALL=$((NCALL + 1))
	sipp_run "c$NCALL-$1" -sf "$SIPP_DIR/carrier_call.xml" -s "$2" -set from "$3" -p "$CARRIER" \
		-default_behaviors all,-abortunexp -m 1 -d "$4" -timeout "$(( $4 / 1000 + 15 ))" -timeout_error
	sleep 0.5
	for p in a1 a2 a3 a4; do
		[ "$(answered_n $p)" -gt "${before[$i]}" ] && got="$got${got:+ }$(ext_of $p)"
		i=$((i + 1))
	done
	GOT=${got:--}
	# its agent back to ready (wrapup_s 0) before the next caller
	[ "$GOT" != - ] && for p in $GOT; do wait_for 10 state_is "$p" ready || echo "# $p not ready again"; done
	echo "# $1: answered by $GOT"
}

# ----------------------------------------------------------- round_robin
# members in extension order, the cursor before 1001: 1002, 1003, 1001,
# where longest_idle would take 1003, 1002, 1001
order 1003 1002 1001
rr=""
for i in 1 2 3; do qcall "rr$i" "${NUM[rr]}" "+861380000001$i" 2500; rr="$rr${rr:+ }$GOT"; done
expect_eq round_robin_member_order "$rr" "1002 1003 1001"

# ---------------------------------------------------------- fewest_calls
# two more round_robin calls with 1001 away (1002 for 5 s, 1003 for 2 s):
# calls 1001 1, 1002 2, 1003 2
order 1002 1003
qcall rr4 "${NUM[rr]}" +8613800000014 5500
expect_eq rr_after_1001_is_1002 "$GOT" 1002
qcall rr5 "${NUM[rr]}" +8613800000015 2500
expect_eq rr_then_1003 "$GOT" 1003
order 1002 1003 1001
qcall fc1 "${NUM[fc]}" +8613800000021 6500
expect_eq fewest_calls_not_longest_idle "$GOT" 1001

# ------------------------------------------------------- least_talk_time
# all have 2 calls now; talk about 1001 8 s, 1002 7 s, 1003 4 s
order 1002 1001 1003
qcall lt1 "${NUM[lt]}" +8613800000031 2500
expect_eq least_talk_time_not_longest_idle "$GOT" 1003

# ---------------------------------------------------------------- random
order 1004 1001 1002 1003
rnd=""
for i in 1 2 3 4 5 6; do qcall "rnd$i" "${NUM[rnd]}" "+861380000004$i" 2000; rnd="$rnd $GOT"; done
distinct=$(tr ' ' '\n' <<< "$rnd" | grep -v '^$' | sort -u | tr '\n' ' ')
echo "# random chose:$rnd"
check random_every_call_answered [ "$(wc -w <<< "$rnd")" = 6 ]
check random_more_than_one_agent [ "$(wc -w <<< "$distinct")" -gt 1 ]
check random_only_eligible not grep -qw -e 1004 -e - <<< "$rnd"

# ---------------------------------------------------------------- skills
# repair 2 required: 1002 (4) before 1001 (2), both before the longest idle
order 1003 1001 1002
qcall sk1 "${NUM[sk]}" +8613800000051 2000
expect_eq skills_best_level_first "$GOT" 1002
order 1003 1001
qcall sk2 "${NUM[sk]}" +8613800000052 2000
expect_eq skills_skips_below_level "$GOT" 1001
# only members below the level ready: the caller waits, never offered
r3=$(rang_n a3) r4=$(rang_n a4)
order 1003 1004
qcall sk3 "${NUM[sk]}" +8613800000053 4000
expect_eq skills_none_eligible_nobody_answers "$GOT" -
check skills_below_level_never_rung [ "$(rang_n a3)" = "$r3" ]
check skills_lacking_never_rung [ "$(rang_n a4)" = "$r4" ]
# the IVR's mandarin 1 adds: 1001 2+4 = 6 before 1002 4+1 = 5 (without
# it 1002 would win, as sk1 did), 1002 the longest idle
order 1002 1001
qcall ivr1 "$NIVR" +8613800000054 3000
expect_eq skills_enqueue_skill_adds "$GOT" 1001
# mandarin asked, 1003 has none: never offered
order 1003
qcall ivr2 "$NIVR" +8613800000055 3000
expect_eq skills_enqueue_skill_required "$GOT" -
check a4_never_rung [ "$(rang_n a4)" = 0 ]

# ----------------------------------------------- sticky, not after its window
# X and Y both answered by 1001 in st (longest_idle, sticky 1 day)
order 1001 1002
qcall stx "${NUM[st]}" +8613800000071 2000
expect_eq sticky_x_first_to_1001 "$GOT" 1001
order 1001 1002
qcall sty "${NUM[st]}" +8613800000072 2000
expect_eq sticky_y_first_to_1001 "$GOT" 1001
rec_of() { # FROM
	sql "SELECT queue || ' ' || queue_result || ' ' || COALESCE(agent, '-') FROM cc.calls
	     WHERE from_number = '$1' AND direction = 'inbound' AND ended_at IS NOT NULL
	     ORDER BY started_at DESC LIMIT 1"
}
rec_is() { [ "$(rec_of "$1")" = "$2" ]; }
check sticky_x_record wait_for 30 rec_is +8613800000071 "st answered 1001"
check sticky_y_record wait_for 30 rec_is +8613800000072 "st answered 1001"
# X's answer 2 days ago (outside 1 day), Y's 12 hours ago (inside)
age() { # FROM INTERVAL
	sql "UPDATE cc.calls SET started_at = started_at - interval '$2', answered_at = answered_at - interval '$2',
	            ended_at = ended_at - interval '$2'
	     WHERE from_number = '$1' AND queue IS NOT NULL" > /dev/null
}
age +8613800000071 '2 days'
age +8613800000072 '12 hours'
pid=$(cat "$CC_VAR/run/routingd.pid")
kill -9 "$pid"
back() { local p; p=$(cat "$CC_VAR/run/routingd.pid" 2>/dev/null); [ -n "$p" ] && [ "$p" != "$pid" ] && kill -0 "$p" 2>/dev/null; }
check routingd_restarted wait_for 15 back
check mediad_alive_again wait_for 20 media_alive 1
seeded_again() { [ "$(grep -c 'sticky caller(s) seeded' "$CC_VAR/log/routingd.log")" -ge 2 ]; }
check sticky_seeded_at_restart wait_for 10 seeded_again
grep -h 'sticky caller(s) seeded' "$CC_VAR/log/routingd.log" | tail -1 | sed 's/^/# /'
# 1002 the longest idle: Y goes to its sticky 1001, X by the strategy
order 1002 1001
qcall sty2 "${NUM[st]}" +8613800000072 2000
expect_eq sticky_within_window_seeded "$GOT" 1001
order 1002 1001
qcall stx2 "${NUM[st]}" +8613800000071 2000
expect_eq sticky_not_after_window "$GOT" 1002

exit $FAILED
