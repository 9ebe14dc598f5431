#!/usr/bin/env bash
# Hold and dispositions through the API end to end (issue 14, docs/ACD.md
# "tenantd's own facts"), a baresip caller (700 Hz, recording what it
# hears) and a baresip agent (250 Hz) through the real stack; the queue's
# music is a tenant prompt of its own (600 Hz), so the recording tells
# what was heard. Hold: POST .../calls/{id}/hold on the bridged queue call,
# the caller hears the music and not the agent, unhold and the agent
# again; held / unheld (hold_ms) on the SSE stream; the record's hold_ms
# and holds; another tenant's key holds nothing (404). Disposition: 202,
# the record's disposition and note, the SSE event; a code not the
# tenant's 422, another tenant's call 404, an unanswered call 422; the
# tenant's code list (defaults complaint, consultation, suggestion), a code
# added and used, another tenant's list untouched.
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
for f in 250 700; do tone_wav "$AUD/$f.wav" "$f" 120; done
tone_wav "$AUD/tune.wav" 600 20

# ------------------------------------------------------------------ setup
new_tenant acme
new_tenant beta
new_agent acme 1001 acme-pass-1001
A=${TID[acme]}
RESP=$CC_VAR/resp.json
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[acme]}" \
       -H "Content-Type: audio/wav" --data-binary "@$AUD/tune.wav" "$API/v1/tenants/acme/prompts/tune")
check prompt_tune [ "$HTTP" = 201 ] || cat "$RESP"
api POST /v1/tenants/acme/queues "${KEY[acme]}" \
	'{"name":"desk","strategy":"longest_idle","ring_timeout_s":5,"wrapup_s":0,"max_wait_s":0,"music":"tune"}'
check queue_desk [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api PATCH /v1/tenants/acme/agents/1001 "${KEY[acme]}" '{"queues":{"desk":1}}'
check member_1001 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
NUM=+8657100000001
assign_number acme "$NUM"
api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"$NUM\",\"target\":{\"type\":\"queue\",\"name\":\"desk\"}}"
check number_desk [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"

declare -A FROM=([c1]=+8613800000001 [c2]=+8613800000002 [c3]=+8613800000003)
for c in c1 c2 c3; do
	BS_SIP[$c]=$(pick_port 2)
	new_trunk "caller-$c" "${BS_SIP[$c]}"
	bs_peer "$c" "$AUD/700.wav" "${FROM[$c]}"
done
bs_start a1 "$AUD/250.wav" 1001 acme.cc.test acme-pass-1001
check registered_1001 wait_for 15 registered 1001@acme.cc.test
check mediad_alive wait_for 20 media_alive 1
check trunks_known wait_for 20 trunk_known "${BS_SIP[c3]}"

curl -sk -N -H "Authorization: Bearer ${KEY[acme]}" "$API/v1/tenants/acme/events" > "$SIPW/sse.out" 2>/dev/null &
SSE_PID=$!

state() { # EXT STATE [REASON]
	api PUT "/v1/tenants/acme/agents/$1/state" "${KEY[acme]}" "{\"state\":\"$2\"${3:+,\"reason\":\"$3\"}}"
	[ "$HTTP" = 200 ]
}
# every_near "F1 F2 ..." HZ: every loud slice is HZ; some_near: one is
every_near() { local x n=0; for x in $1; do [ "$x" = - ] && continue; near "$x" "$2" || return 1; n=$((n + 1)); done; [ "$n" -gt 0 ]; }
some_near() { local x; for x in $1; do [ "$x" != - ] && near "$x" "$2" && return 0; done; return 1; }
now_s() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }   # ms from $1 to $2
# window FILE FROM_MS TO_MS: the frequencies of that part of FILE
window() { sox "$1" "$1.w.wav" trim "$(ms_s "$2")" "$(ms_s $(( $3 - $2 )))" 2>/dev/null && freqs "$1.w.wav"; rm -f "$1.w.wav"; }
rec_of() { # FROM
	sql "SELECT COALESCE(queue, '-') || ' ' || COALESCE(queue_result, '-') || ' ' || COALESCE(agent, '-')
	     FROM cc.calls WHERE from_number = '$1' AND direction = 'inbound' AND ended_at IS NOT NULL
	     ORDER BY started_at DESC LIMIT 1"
}
rec_is() { [ "$(rec_of "$1")" = "$2" ]; }
call_of() { sql "SELECT id FROM cc.calls WHERE from_number = '$1' AND direction = 'inbound' ORDER BY started_at DESC LIMIT 1"; }
sql_is() { [ "$(sql "$2")" = "$1" ]; }

# ------------------------------------------------------ hold and unhold
check a1_ready state 1001 ready
bs_cmd c1 dial "sip:$NUM@127.0.0.1:$CC_SIP_PORT"
check c1_in_call wait_for 15 bs_in_call c1
t0=$(now_s)
check a1_answered wait_for 15 bs_in_call a1
on_call() { api GET /v1/tenants/acme/agents/live "${KEY[acme]}"; [ "$(jr '.agents[0].state')" = on_call ]; }
check a1_on_call wait_for 10 on_call
C1=$(jr '.agents[0].call // empty')
check live_names_the_call [ -n "$C1" ]
sleep 2
api POST "/v1/tenants/beta/calls/$C1/hold" "${KEY[beta]}"
check hold_other_tenant_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api POST "/v1/tenants/acme/calls/$C1/hold" "${KEY[acme]}"
check hold_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
t1=$(now_s)
sleep 3
api POST "/v1/tenants/acme/calls/$C1/unhold" "${KEY[acme]}"
check unhold_200 [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
t2=$(now_s)
sleep 2
bs_cmd c1 hangup
check c1_ended wait_for 10 bs_ended c1
sleep 0.5
H=$(bs_heard c1)
before=$(window "$H" 500 "$(since "$t0" "$t1")")
held=$(window "$H" $(( $(since "$t0" "$t1") + 600 )) $(( $(since "$t0" "$t2") - 300 )))
after=$(window "$H" $(( $(since "$t0" "$t2") + 600 )) $(( $(since "$t0" "$t2") + 1800 )))
echo "# caller heard before hold: $before / held: $held / after: $after"
check caller_hears_agent_before_hold some_near "$before" 250
check caller_hears_music_on_hold every_near "$held" 600
check caller_not_the_agent_on_hold not some_near "$held" 250
check caller_hears_agent_after_unhold every_near "$after" 250
check hold_record wait_for 40 sql_is "desk answered 1001 1" \
	"SELECT queue || ' ' || queue_result || ' ' || agent || ' ' || holds FROM cc.calls WHERE id = '$C1' AND ended_at IS NOT NULL"
hold_ms=$(sql "SELECT hold_ms FROM cc.calls WHERE id = '$C1'")
echo "# hold_ms $hold_ms"
check hold_ms_recorded [ "${hold_ms:-0}" -ge 2500 -a "${hold_ms:-0}" -le 5000 ]
check sse_held wait_for 10 grep -q '^event: held' "$SIPW/sse.out"
check sse_unheld_hold_ms grep -Eq '"type":"unheld".*"hold_ms":[0-9]+|"hold_ms":[0-9]+.*"type":"unheld"' "$SIPW/sse.out"
check unheld_event_hold_ms [ "$(sql "SELECT (body->>'hold_ms')::int >= 2500 FROM cc.call_events WHERE type = 'unheld' AND call_id = '$C1'")" = t ]
api POST "/v1/tenants/acme/calls/$C1/hold" "${KEY[acme]}"
check hold_ended_call_refused [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"

# ---------------------------------------------------------- dispositions
codes() { jr '([.items[].code] | join(",")) + " " + (.defaults | tostring)'; }
api GET /v1/tenants/acme/disposition_codes "${KEY[acme]}"
check codes_default [ "$(codes)" = "complaint,consultation,suggestion true" ]
api POST "/v1/tenants/acme/calls/$C1/disposition" "${KEY[acme]}" '{"code":"complaint","note":"x"}'
check disposition_202 [ "$HTTP" = 202 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check disposition_answer [ "$(jr '.agent + " " + .code')" = "1001 complaint" ]
check disposition_recorded wait_for 15 sql_is "complaint x" "SELECT disposition || ' ' || disposition_note FROM cc.calls WHERE id = '$C1'"
check sse_disposition wait_for 10 grep -q '^event: disposition' "$SIPW/sse.out"
sse_of() { # TYPE FIELDS: the tenant's SSE events of TYPE about C1, as jq FIELDS
	grep -a '^data: ' "$SIPW/sse.out" | sed 's/^data: //' |
		jq -r --arg t "$1" --arg c "$C1" "select(.type == \$t and .call == \$c) | $2" 2>/dev/null
}
check sse_disposition_fields [ "$(sse_of disposition '.agent + " " + .code + " " + .note')" = "1001 complaint x" ]
check sse_held_agent [ "$(sse_of held .agent)" = 1001 ]
check sse_unheld_hold_ms_ge_2500 [ "$(sse_of unheld '.hold_ms >= 2500')" = true ]
api POST "/v1/tenants/acme/calls/$C1/disposition" "${KEY[acme]}" '{"code":"refund","note":"x"}'
check disposition_unknown_code_422 [ "$HTTP $(jr .error.field)" = "422 code" ] || echo "# HTTP $HTTP $(cat "$RESP")"
api POST "/v1/tenants/acme/calls/$C1/disposition" "${KEY[acme]}" '{"code":"Complaint"}'
check disposition_bad_form_422 [ "$HTTP" = 422 ]
api POST "/v1/tenants/acme/calls/$C1/disposition" "${KEY[acme]}" "{\"code\":\"complaint\",\"note\":\"$(head -c 5000 /dev/zero | tr '\0' n)\"}"
check disposition_long_note_422 [ "$HTTP" = 422 ]
api POST "/v1/tenants/beta/calls/$C1/disposition" "${KEY[beta]}" '{"code":"complaint","note":"forged"}'
check disposition_other_tenant_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api POST "/v1/tenants/acme/calls/$(uuid)/disposition" "${KEY[acme]}" '{"code":"complaint"}'
check disposition_no_such_call_404 [ "$HTTP" = 404 ]
check disposition_not_forged [ "$(sql "SELECT disposition_note FROM cc.calls WHERE id = '$C1'")" = x ]

# an unanswered call: the caller hangs up while nobody is ready
check a1_away state 1001 not_ready lunch
bs_cmd c2 dial "sip:$NUM@127.0.0.1:$CC_SIP_PORT"
check c2_in_call wait_for 15 bs_in_call c2
sleep 2
bs_cmd c2 hangup
check c2_abandoned wait_for 40 rec_is "${FROM[c2]}" "desk abandoned -"
api POST "/v1/tenants/acme/calls/$(call_of "${FROM[c2]}")/disposition" "${KEY[acme]}" '{"code":"complaint"}'
check disposition_unanswered_422 [ "$HTTP" = 422 ] || echo "# HTTP $HTTP $(cat "$RESP")"

# a code of the tenant's own list
api PUT /v1/tenants/acme/disposition_codes "${KEY[acme]}" \
	'{"items":[{"code":"complaint","label":"Complaint"},{"code":"refund","label":"Refund"}]}'
check codes_put_200 [ "$HTTP $(codes)" = "200 complaint,refund false" ]
api PUT /v1/tenants/acme/disposition_codes "${KEY[acme]}" '{"items":[{"code":"Bad Code"}]}'
check codes_put_bad_422 [ "$HTTP" = 422 ]
api GET /v1/tenants/beta/disposition_codes "${KEY[beta]}"
check codes_beta_untouched [ "$(codes)" = "complaint,consultation,suggestion true" ]
api POST "/v1/tenants/acme/calls/$C1/disposition" "${KEY[acme]}" '{"code":"refund","note":"money back"}'
check disposition_own_code_202 [ "$HTTP" = 202 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check disposition_own_code_recorded wait_for 15 sql_is "refund money back" "SELECT disposition || ' ' || disposition_note FROM cc.calls WHERE id = '$C1'"
api POST "/v1/tenants/acme/calls/$C1/disposition" "${KEY[acme]}" '{"code":"suggestion"}'
check disposition_dropped_default_422 [ "$HTTP" = 422 ]
check sse_own_tenant_only not grep -q "\"tenant\":\"${TID[beta]}\"" "$SIPW/sse.out"

exit $FAILED
