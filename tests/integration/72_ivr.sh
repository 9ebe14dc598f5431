#!/usr/bin/env bash
# The IVR end to end (issue 13's outcome, docs/MEDIA.md, docs/FLOWS.md):
# prompts uploaded through the API, a flow PUT, numbers pointing at flows,
# and real clients on every side: baresip callers from the carrier's side
# (each from a trunk of its own, playing a tone of its own and recording
# what it hears), baresip agents (each playing another tone), SIPp
# carriers sending RFC 4733 keys or in-band tones. Every prompt is a tone
# of its own frequency, so a recording tells what was heard:
#
#   desk agent 250 Hz   repair agent 330 Hz   ring-back 450 Hz (China)
#   welcome 600 Hz   caller 700 Hz   claims 900 Hz   account 1100 Hz
#   invalid: the platform's default (speech)
# (sox's "Rough frequency" counts zero crossings: on 8 kHz G.711 it reads
# 1000 Hz as 975 and 1500 Hz as 1414, so the tones stay low and 8 % apart)
#
# Cases: the welcome is heard; 1 rings the repair agent, who answers, and
# each side hears the other through the bridge; 2 plays claims then the
# menu again; no key: the menu again, then the desk; a collect keeps its
# digits on the record; closed hours (a schedule open only on another
# weekday in the tenant's zone) play the closed message and hang up;
# RFC 4733 from SIPp and in-band tones from SIPp (no telephone-event) are
# taken; a caller hangs up during the welcome (ivr_abandoned); 200 keys in
# a second end where the flow says; an agent node whose agent is not
# registered, busy, rejects or does not answer goes to its next (the desk);
# mediad killed with a call in it: the caller gets a BYE, a new call is
# refused 503, the supervisor restarts mediad and flows answer again; a
# flow changed while a call is in it (the call keeps its version); a prompt
# replaced while a call plays it (the call finishes the old audio); a number
# node out through the carrier with the tenant's caller ID. The records
# carry the IVR path, the variables, ivr_ms and the result.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
BUILD=${CC_BUILD:-$TOP/build}
if [ ! -x "$BUILD/media/mediad" ]; then
	echo "# skip: $BUILD/media/mediad is not built (issue 13's mediad)"
	exit 0
fi
trap 'bs_stop_all; stack_down' EXIT
stack_up || exit 1
AUD=$SIPW/audio; mkdir -p "$AUD"
for f in 250 330 700; do tone_wav "$AUD/$f.wav" "$f" 120; done
tone_wav "$AUD/welcome.wav" 600 3
tone_wav "$AUD/claims.wav" 900 2
tone_wav "$AUD/account.wav" 1100 2
tone_wav "$AUD/long-old.wav" 500 8
tone_wav "$AUD/long-new.wav" 800 8

# ------------------------------------------------------------------ tenant
new_tenant acme
new_agent acme 1000 acme-pass-1000      # the desk (baresip, 250 Hz)
new_agent acme 1001 acme-pass-1001      # repair (baresip, 330 Hz)
new_agent acme 1005 acme-pass-1005      # never registered
new_agent acme 1006 acme-pass-1006      # registered, answers 486
new_agent acme 1007 acme-pass-1007      # registered, rings, never answers
new_agent acme 1008 acme-pass-1008      # registered, answers 603
prompt_put() { # SLUG NAME FILE
	RESP=$CC_VAR/resp.json
	HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[$1]}" \
	       -H "Content-Type: audio/wav" --data-binary "@$3" "$API/v1/tenants/$1/prompts/$2")
}
for p in welcome claims account; do
	prompt_put acme "$p" "$AUD/$p.wav"
	check "prompt_$p" [ "$HTTP" = 201 ] || cat "$RESP"
done
prompt_put acme long "$AUD/long-old.wav"
check prompt_long [ "$HTTP" = 201 ] || cat "$RESP"
# the closed message spoken from text
RESP=$CC_VAR/resp.json
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${KEY[acme]}" \
       -H "Content-Type: application/json" --data-binary '{"tts":"We are closed. Please call again tomorrow.","voice":"en"}' \
       "$API/v1/tenants/acme/prompts/closed")
check prompt_closed_tts [ "$HTTP" = 201 ] || cat "$RESP"

flow_put() { # NAME JSON
	api PUT "/v1/tenants/acme/flows/$1" "${KEY[acme]}" "$2"
	check "flow_$1" [ "$HTTP" = 201 -o "$HTTP" = 200 ] || echo "# flow $1: HTTP $HTTP $(cat "$RESP")"
}
# open all week: the issue's example with a collect on 7 and short waits
flow_put main '{"start":"hours",
 "nodes":{
  "hours":  {"type":"schedule","open":"welcome","closed":"closed",
             "week":{"mon-sun":["00:00-24:00"]}},
  "welcome":{"type":"menu","prompt":"welcome","timeout_s":2,"retries":1,
             "invalid":"invalid","options":{"1":"repair","2":"claims_info","7":"acct","0":"desk"},
             "default":"desk"},
  "claims_info":{"type":"play","prompts":["claims"],"next":"welcome"},
  "acct":   {"type":"collect","prompt":"account","var":"account","min_digits":4,"max_digits":8,
             "terminator":"#","next":"desk"},
  "repair": {"type":"agent","extension":"1001","timeout_s":20,"next":"desk"},
  "desk":   {"type":"agent","extension":"1000"},
  "closed": {"type":"play","prompts":["closed"],"next":"bye"},
  "bye":    {"type":"hangup"}}}'
# closed now: open only on a weekday that is not today in Asia/Shanghai
today=$(TZ=Asia/Shanghai date +%u)   # 1 = mon
days=(mon tue wed thu fri sat sun)
other=${days[$(( today % 7 ))]}
flow_put after "{\"start\":\"hours\",\"nodes\":{
  \"hours\":{\"type\":\"schedule\",\"open\":\"desk\",\"closed\":\"closed\",\"week\":{\"$other\":[\"09:00-10:00\"]}},
  \"desk\":{\"type\":\"agent\",\"extension\":\"1000\"},
  \"closed\":{\"type\":\"play\",\"prompts\":[\"closed\"],\"next\":\"bye\"},
  \"bye\":{\"type\":\"hangup\"}}}"
# one agent node that fails in each way, then the desk
for e in 1005 1006 1007 1008; do
	flow_put "try$e" "{\"start\":\"first\",\"nodes\":{
	  \"first\":{\"type\":\"agent\",\"extension\":\"$e\",\"timeout_s\":4,\"next\":\"desk\"},
	  \"desk\":{\"type\":\"agent\",\"extension\":\"1000\"}}}"
done

# a flow changed while a call is in it (1 rings repair; after the change,
# the desk); a prompt replaced while a call plays it; a number node out
# through the carrier with the tenant's caller ID
swap_v1='{"start":"m","nodes":{"m":{"type":"menu","prompt":"welcome","timeout_s":15,"retries":0,"options":{"1":"a"},"default":"bye"},"a":{"type":"agent","extension":"1001","timeout_s":15,"next":"bye"},"bye":{"type":"hangup"}}}'
flow_put swap "$swap_v1"
flow_put long '{"start":"p","nodes":{"p":{"type":"play","prompts":["long"],"next":"bye"},"bye":{"type":"hangup"}}}'

CARRIER=$(pick_port) PSTN=$(pick_port)
new_trunk carrier1 "$CARRIER"
new_trunk pstn-out "$(pick_port)" "$PSTN"
flow_number() { # E164 FLOW
	assign_number acme "$1" || return 1
	api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"$1\",\"target\":{\"type\":\"flow\",\"name\":\"$2\"}}"
	check "number_$2" [ "$HTTP" = 201 ] || echo "# number $1: HTTP $HTTP $(cat "$RESP")"
}
MAIN=+8657100000001 AFTER=+8657100000002
flow_number "$MAIN" main
flow_number "$AFTER" after
for e in 1005 1006 1007 1008; do flow_number "+865710000$e" "try$e"; done
SWAP=+8657100000003 LONG=+8657100000004 OUT=+8657100000005
flow_number "$SWAP" swap
flow_number "$LONG" long
# a number node needs a tenant that may call out (else the PUT is 422)
check pstn_enabled pstn_enable acme "$MAIN"
flow_put out '{"start":"n","nodes":{"n":{"type":"number","number":"+8613912345678","timeout_s":15,"next":"bye"},"bye":{"type":"hangup"}}}'
flow_number "$OUT" out

# callers: one baresip carrier peer per case, each from a trunk of its own
# and its own number (+86138000000NN), so each case's record is its own
CASES="hear one two none acct closed hangup flood unreg busy noans reject swap swap2 long long2 out kill after"
declare -A FROM
n=10
for c in $CASES; do
	BS_SIP[c-$c]=$(pick_port 2)
	FROM[$c]=+86138000000$n; n=$((n + 1))
	new_trunk "caller-$c" "${BS_SIP[c-$c]}"
	# started now, so its ports are taken at once (baresip also binds
	# SIP_PORT+1 for TLS; a later start lost that port to another process)
	bs_peer "c-$c" "$AUD/700.wav" "${FROM[$c]}"
done
check trunks_loaded wait_for 20 trunk_known "${BS_SIP[c-after]}"
registered() { CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" ul.lookup "[\"location\",\"$1@acme.cc.test\"]" | grep -q '"Address"'; }

bs_start desk "$AUD/250.wav" 1000 acme.cc.test acme-pass-1000
bs_start repair "$AUD/330.wav" 1001 acme.cc.test acme-pass-1001
bs_start noans "$AUD/330.wav" 1007 acme.cc.test acme-pass-1007 manual
A1006=$(pick_port) A1008=$(pick_port)
check register_1006 sip_register 1006 acme.cc.test acme-pass-1006 "$A1006"
check register_1008 sip_register 1008 acme.cc.test acme-pass-1008 "$A1008"
check desk_registered wait_for 15 registered 1000
check repair_registered wait_for 15 registered 1001
check noans_registered wait_for 15 registered 1007

# ------------------------------------------------------------- helpers
# dial CASE NUMBER: the case's caller (700 Hz) calls NUMBER; waits until up
dial() {
	bs_cmd "c-$1" dial "sip:$2@127.0.0.1:$CC_SIP_PORT"
	wait_for 15 bs_in_call "c-$1"
}
hangup() { bs_cmd "c-$1" hangup; wait_for 10 bs_ended "c-$1"; sleep 0.3; }
heard() { bs_heard "c-$1"; }
# answered_n NAME: how many calls the baresip NAME answered
answered_n() { grep -ac 'Call established' "$SIPW/bs/$1/out" 2>/dev/null; }
# rec CASE: the caller's call record into $RESP.rec (ended), for wait_for
rec() {
	api GET "/v1/tenants/acme/calls?limit=200" "${KEY[acme]}"
	jq -e --arg f "${FROM[$1]}" '[.items[] | select(.from == $f and .direction == "inbound" and .ended_at != null)][0] // empty' \
		"$RESP" > "$RESP.rec" 2>/dev/null
}
recf() { jq -r "$1" "$RESP.rec"; }
path() { recf '[.ivr[]? | .node + (if .digit then ":" + .digit else "" end)] | join(",")'; }
# freqs FILE: the rough frequency of each 0.5 s of FILE, loud ones only
# (others "-"), e.g. "600 600 - 900 900 600"
# has_freq FILE HZ: some 0.5 s of FILE is HZ +- 5 %
has_freq() {
	local x
	for x in $(freqs "$1"); do
		[ "$x" = - ] && continue
		awk -v f="$x" -v w="$2" 'BEGIN { d = f - w; if (d < 0) d = -d; exit !(d * 100 <= w * 5) }' && return 0
	done
	return 1
}
# freq_order FILE HZ...: the HZ are heard in this order (others between)
freq_order() {
	local file=$1 seq x w; shift
	seq=$(for x in $(freqs "$file"); do
		[ "$x" = - ] && continue
		for w in "$@"; do awk -v f="$x" -v w="$w" 'BEGIN { d = f - w; if (d < 0) d = -d; exit !(d * 100 <= w * 5) }' && echo "$w" && break; done
	done | uniq | tr '\n' ' ')
	local re; re=$(printf '%s .*' "$@")
	[[ " $seq" =~ \ ${re% .*}\  ]]
}
sql_is() { [ "$(sql "$2")" = "$1" ]; }
# like STRING GLOB: STRING matches the shell pattern GLOB
like() { [[ $1 == $2 ]]; }
MEDIAD_PID() { cat "$CC_VAR/run/mediad.pid" 2>/dev/null; }
media_metric() { curl -s --max-time 2 "http://127.0.0.1:$CC_MEDIA_METRICS_PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }

# ----------------------------------------------------- the welcome is heard
check hear_answered dial hear "$MAIN"
sleep 2.5
hangup hear
check hear_welcome_not_silent audio_not_silent "$(heard hear)" 0.05
check hear_welcome_is_600hz has_freq "$(heard hear)" 600
echo "# welcome call heard: $(freqs "$(heard hear)")"

# ------------------------------------------------- 1: the repair agent, two-way
before=$(answered_n repair)
check one_answered dial one "$MAIN"
sleep 1
bs_cmd c-one sndcode 1
check one_repair_answered wait_for 15 eval '[ "$(answered_n repair)" -gt "$before" ]'
sleep 4
hangup one
wait_for 10 bs_ended repair
sleep 0.5
echo "# 1: caller heard $(freqs "$(heard one)"); repair heard $(freqs "$(bs_heard repair)")"
check one_caller_heard_welcome has_freq "$(heard one)" 600
check one_caller_hears_agent_330hz has_freq "$(heard one)" 330
check one_agent_hears_caller_700hz has_freq "$(bs_heard repair)" 700
check one_desk_not_rung [ "$(answered_n desk)" = 0 ]
if wait_for 15 rec one; then
	# each node entered is a step, and each key taken another
	expect_eq one_record_path "$(path)" "hours,welcome,welcome:1,repair"
	expect_eq one_record_result "$(recf .result)" answered
	# the flow version the call ran (docs/EVENTS.md)
	expect_eq one_record_flow "$(recf .flow)" "$(sql "SELECT version_id FROM cc.flows WHERE name = 'main'")"
	check one_record_ivr_ms [ "$(recf '.ivr_ms // 0')" -ge 500 ]
	ID_ONE=$(recf .id)
	expect_eq one_record_agent "$(recf .agent)" 1001
	expect_eq one_leg_parent "$(sql "SELECT count(*) FROM cc.calls WHERE parent_call = '$ID_ONE'")" 1
else
	fail one_record "no ended record from ${FROM[one]}"
fi

# --------------------------------------------- 2: claims, then the menu again
check two_answered dial two "$MAIN"
sleep 1
bs_cmd c-two sndcode 2
sleep 6
hangup two
echo "# 2: caller heard $(freqs "$(heard two)")"
check two_claims_then_menu freq_order "$(heard two)" 600 900 600
if wait_for 15 rec two; then
	check two_record_path like "$(path)" "hours,welcome,welcome:2,claims_info,welcome*"
	expect_eq two_record_result "$(recf .result)" ivr_abandoned
fi

# ---------------------------- no key: the menu again (after invalid), the desk
before=$(answered_n desk)
check none_answered dial none "$MAIN"
check none_desk_answered wait_for 30 eval '[ "$(answered_n desk)" -gt "$before" ]'
sleep 3
hangup none
echo "# none: caller heard $(freqs "$(heard none)")"
check none_caller_hears_desk_250hz has_freq "$(heard none)" 250
if wait_for 15 rec none; then
	# entered, then a timeout each try (1 + retries 1), then the default
	expect_eq none_record_path "$(path)" "hours,welcome,welcome,welcome,desk"
	expect_eq none_record_why "$(recf '[.ivr[]? | .why // empty] | join(",")')" "timeout,timeout"
	expect_eq none_record_result "$(recf .result)" answered
fi

# ----------------------------------- 7: collect an account number, then the desk
before=$(answered_n desk)
check acct_answered dial acct "$MAIN"
sleep 1
bs_cmd c-acct sndcode 7
sleep 1
bs_cmd c-acct sndcode '1234#'
check acct_desk_answered wait_for 20 eval '[ "$(answered_n desk)" -gt "$before" ]'
sleep 1
hangup acct
check acct_heard_account_prompt has_freq "$(heard acct)" 1100
if wait_for 15 rec acct; then
	expect_eq acct_record_var "$(recf '.ivr_vars.account // empty')" 1234
	check acct_record_path like "$(path)" "hours,welcome,welcome:7,acct,*desk"
fi

# ---------------------------------------------------- closed hours
check closed_answered dial closed "$AFTER"
check closed_flow_hangs_up wait_for 20 bs_ended c-closed
check closed_message_heard audio_not_silent "$(heard closed)" 0.02
check closed_desk_not_rung not grep -aq "${FROM[closed]}" "$SIPW/bs/desk/out"
if wait_for 15 rec closed; then
	expect_eq closed_record_path "$(path)" "hours,closed,bye"
	check closed_record_why_closed [ "$(recf '[.ivr[]? | select(.why == "closed")] | length')" -ge 1 ]
	expect_eq closed_record_result "$(recf .result)" ivr_ended
fi

# --------------------------------- a caller hangs up during the welcome
check hangup_answered dial hangup "$MAIN"
sleep 1
hangup hangup
if wait_for 15 rec hangup; then
	expect_eq hangup_record_result "$(recf .result)" ivr_abandoned
	expect_eq hangup_record_path "$(path)" "hours,welcome"
	check hangup_record_ivr_ms [ "$(recf '.ivr_ms // 0')" -ge 300 -a "$(recf '.ivr_ms // 0')" -le 10000 ]
fi

# -------------------------------- SIPp: RFC 4733 '1' and in-band '1' ring repair
before=$(answered_n repair)
(sip_call_dtmf ivr-rfc4733 "$CARRIER" "$MAIN" +8613900000001 1 4000 > /dev/null; echo $? > "$SIPW/ivr-rfc4733.rc") &
sipp=$!
check rfc4733_key_rings_repair wait_for 20 eval '[ "$(answered_n repair)" -gt "$before" ]'
wait "$sipp"
expect_eq rfc4733_call_ok "$(cat "$SIPW/ivr-rfc4733.rc")" 0
dtmf_wav "$AUD/key1.wav" 1 120 200
ulaw_raw "$AUD/key1.wav" "$AUD/key1.ul"
before=$(answered_n repair)
(sip_call_audio ivr-inband "$CARRIER" "$MAIN" +8613900000002 "$AUD/key1.ul" 6000 > /dev/null; echo $? > "$SIPW/ivr-inband.rc") &
sipp=$!
check inband_key_rings_repair wait_for 25 eval '[ "$(answered_n repair)" -gt "$before" ]'
wait "$sipp"
expect_eq inband_call_ok "$(cat "$SIPW/ivr-inband.rc")" 0
check inband_offer_had_no_telephone_event not grep -q 'telephone-event' <(sed -n '/^INVITE/,/^$/p' "$SIPW/ivr-inband.log")

# --------------------------------------------------- 200 keys in a second
pid0=$(MEDIAD_PID)
keys=$(for ((i = 0; i < 20; i++)); do printf 9876543210; done)
check flood_call sip_call_dtmf ivr-flood "$CARRIER" "$MAIN" +8613900000003 "$keys" 3000 3 2
flood_rec() {
	api GET "/v1/tenants/acme/calls?limit=200" "${KEY[acme]}"
	jq -e '[.items[] | select(.from == "+8613900000003" and .ended_at != null)][0] // empty' "$RESP" > "$RESP.rec" 2>/dev/null
}
if wait_for 15 flood_rec; then
	check flood_record_has_path [ "$(recf '.ivr | length')" -ge 2 ]
	check flood_record_result [ -n "$(recf '.result // empty')" ]
	echo "# flood: path $(path | cut -c1-120), result $(recf .result)"
else
	fail flood_record "no ended record"
fi
expect_eq flood_mediad_same_process "$(MEDIAD_PID)" "$pid0"

# ------------- agent nodes that fail: not registered, busy, rejects, no answer
sip_listen "$A1006" 40 "486 Busy Here"
sip_listen "$A1008" 40 "603 Decline"
for c in unreg:1005 busy:1006 noans:1007 reject:1008; do
	name=${c%%:*} e=${c#*:}
	before=$(answered_n desk)
	check "${name}_answered" dial "$name" "+865710000$e"
	check "${name}_then_desk" wait_for 30 eval '[ "$(answered_n desk)" -gt "$before" ]'
	sleep 1
	hangup "$name"
	if wait_for 15 rec "$name"; then
		ID=$(recf .id)
		# entered, failed (why: failed), the next
		expect_eq "${name}_record_path" "$(path)" "first,first,desk"
		expect_eq "${name}_record_why" "$(recf '[.ivr[]? | .why // empty] | join(",")')" failed
		sql "SELECT body->>'reason' FROM cc.call_events WHERE call_id = '$ID' AND type = 'agent_failed'" > "$SIPW/af-$name"
		echo "# $name: agent_failed $(tr '\n' ' ' < "$SIPW/af-$name")"
	fi
done
check unreg_reason grep -qx 'not registered' "$SIPW/af-unreg"
check busy_reason grep -qx 'busy' "$SIPW/af-busy"
check noans_reason grep -qx 'no answer' "$SIPW/af-noans"
check reject_reason grep -qx 'rejected' "$SIPW/af-reject"
check noans_phone_rang bs_ringing noans

# ------------------ a flow changed while a call is in it: the call runs on
# the version it started with; the next call runs the new one
before=$(answered_n repair) desk0=$(answered_n desk)
check swap_answered dial swap "$SWAP"
sleep 1
flow_put swap "${swap_v1/\"extension\":\"1001\"/\"extension\":\"1000\"}"
check swap_changed [ "$(sql "SELECT count(*) FROM cc.flow_versions v JOIN cc.flows f ON f.id = v.flow_id WHERE f.name = 'swap'")" = 2 ]
bs_cmd c-swap sndcode 1
check swap_old_version_rings_repair wait_for 15 eval '[ "$(answered_n repair)" -gt "$before" ]'
check swap_desk_not_rung [ "$(answered_n desk)" = "$desk0" ]
sleep 1
hangup swap
wait_for 10 bs_ended repair
check swap2_answered dial swap2 "$SWAP"
sleep 1
bs_cmd c-swap2 sndcode 1
check swap_new_version_rings_desk wait_for 15 eval '[ "$(answered_n desk)" -gt "$desk0" ]'
sleep 1
hangup swap2
wait_for 10 bs_ended desk

# ------------- a prompt replaced while a call plays it: that call finishes
# the old audio (500 Hz); the next call hears the new one (800 Hz)
check long_answered dial long "$LONG"
sleep 1.5
prompt_put acme long "$AUD/long-new.wav"
check long_replaced [ "$HTTP" = 200 ]
sleep 4
hangup long
echo "# long: the caller heard $(freqs "$(heard long)")"
check long_old_audio_to_the_end has_freq "$(heard long)" 500
check long_never_the_new not has_freq "$(heard long)" 800
check long2_answered dial long2 "$LONG"
sleep 2.5
hangup long2
check long2_hears_the_new has_freq "$(heard long2)" 800

# --------------------------- a number node: out through the carrier, with
# the tenant's caller ID, bridged to the caller; its leg's record has the
# caller's call as parent
(cd "$SIPW" && exec timeout -s KILL 40 sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/pstn_uas.xml" \
	-p "$PSTN" -m 1 -trace_msg -message_file pstn-out.log -nostdin -timeout 35 > pstn-out.out 2>&1) &
PSTN_PID=$!
SIPP_PIDS="$SIPP_PIDS $PSTN_PID"
wait_for 5 eval 'ss -Huan "sport = :$PSTN" | grep -q .'
check out_answered dial out "$OUT"
check out_carrier_invited wait_for 15 grep -q '^INVITE sip:+8613912345678@' "$SIPW/pstn-out.log"
check out_presents_tenant_caller_id grep -Eqi "^From:.*sip:\\$MAIN@" "$SIPW/pstn-out.log"
check out_x_cc_never_reach_carrier not grep -q '^X-CC-' "$SIPW/pstn-out.log"
sleep 2
hangup out
wait "$PSTN_PID" 2>/dev/null
if wait_for 15 rec out; then
	ID_OUT=$(recf .id)
	check out_record_bridged [ "$(recf .result)" = answered ]
	check out_leg_outbound_with_parent wait_for 15 sql_is 1 "SELECT count(*) FROM cc.calls WHERE parent_call = '$ID_OUT' AND direction = 'outbound' AND to_number = '+8613912345678'"
fi

# ------------------------------------ mediad killed with a call in it
# Its supervisor restarts it after 1 s, before routingd's 3 s without a
# heartbeat run out: a call placed in between reaches the new mediad. To
# see the 503 the supervisor is held (SIGSTOP) while mediad is dead, and
# let go afterwards.
check kill_answered dial kill "$MAIN"
sleep 1
pid=$(MEDIAD_PID) sup=$(cat "$CC_VAR/run/mediad.sup.pid")
kill -STOP "$sup"
kill -KILL "$pid"
t0=$(date +%s%N)
check kill_caller_gets_bye wait_for 15 bs_ended c-kill
echo "# kill: the caller's BYE $(( ($(date +%s%N) - t0) / 1000000 )) ms after the kill"
check kill_routingd_sees_none wait_for 10 media_alive 0
t1=$(date +%s%N)
check kill_new_call_503 sip_call_refused 503 "$CARRIER" "$MAIN" +8613900000004
ms=$(( ($(date +%s%N) - t1) / 1000000 ))
check kill_503_at_once [ "$ms" -lt 1500 ]
echo "# kill: a new call's 503 took $ms ms (SIPp included)"
kill -CONT "$sup"
check kill_supervisor_restarted wait_for 20 eval '[ -n "$(MEDIAD_PID)" ] && [ "$(MEDIAD_PID)" != "$pid" ] && kill -0 "$(MEDIAD_PID)"'
check kill_media_alive_again wait_for 20 media_alive 1
if wait_for 15 rec kill; then
	check kill_record_reason [ "$(recf '.reason // .end_reason // empty')" = "media server lost" ] ||
		echo "# kill record: $(jq -c . "$RESP.rec" | cut -c1-300)"
fi
check after_restart_answered dial after "$MAIN"
sleep 2
hangup after
check after_restart_welcome has_freq "$(heard after)" 600
