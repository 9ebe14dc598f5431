#!/usr/bin/env bash
# WebRTC at the edge: a browser softphone (headless Chromium running JsSIP,
# tenantd/web/test/phone.mjs) registers over secure WebSocket on Kamailio's
# TLS port with the agent's digest credentials, like any phone. A carrier's
# call (baresip as the carrier, a 1000 Hz tone) rings it and carries audio
# both ways through rtpengine: ICE and DTLS-SRTP on the browser's side,
# plain RTP on the carrier's (the browser's fake microphone plays 440 Hz).
# Then the browser calls out to the PSTN (the same baresip, the trunk's
# outbound address, called at its own number), audio both ways again; and
# a queue call reaches the browser as an agent through mediad. Refusals: a
# WebSocket handshake from another origin (403), one over plain TCP (404),
# a wrong password.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
BUILD=${CC_BUILD:-$TOP/build}
WEB=$TOP/tenantd/web
# make deps installs these (chromium, tenantd/web/node_modules), make all
# builds the bundle: missing, the test fails rather than pass unseen
for need in "command -v chromium" "[ -d $WEB/node_modules/puppeteer-core ]" "[ -f $TOP/build/web/sip.js ]"; do
	eval "$need" > /dev/null || { fail webrtc_prerequisites "$need"; exit 1; }
done
PH_PIDS=""
trap 'exec 7>&- 8>&- 2>/dev/null; for p in $PH_PIDS; do kill $p 2>/dev/null; done; bs_stop_all; stack_down' EXIT
stack_up || exit 1
AUD=$SIPW/audio; mkdir -p "$AUD"
tone_wav "$AUD/1000.wav" 1000 120
sox -n -r 48000 -c 1 -b 16 -e signed-integer "$AUD/440.wav" synth 120 sine 440 gain -6

new_tenant acme
new_agent acme 1001 acme-pass-1001
BS_SIP[c]=$(pick_port 2)
new_trunk carrier1 "${BS_SIP[c]}" "${BS_SIP[c]}"
NUM=+8657100000001
new_number acme "$NUM" 1001
pstn_enable acme "$NUM"
check trunk_loaded wait_for 20 trunk_known "${BS_SIP[c]}"
bs_peer c "$AUD/1000.wav" +8613800000001

WSS=wss://127.0.0.1:$CC_SIP_TLS_PORT
# phone NAME EXT PASSWORD FD: a browser phone, commands on file descriptor FD
phone() {
	mkfifo "$SIPW/$1.in"
	node "$WEB/test/phone.mjs" "$API/desk-origin" "$WSS" "$2" acme.cc.test "$3" "$AUD/440.wav" \
		< "$SIPW/$1.in" > "$SIPW/$1.out" 2> "$SIPW/$1.err" &
	PH_PIDS="$PH_PIDS $!"
	eval "exec $4> \"$SIPW/$1.in\""
}
said() { grep -q "\"ev\":\"$2\"" "$SIPW/$1.out" 2>/dev/null; }
said_n() { local n; n=$(grep -c "\"ev\":\"$2\"" "$SIPW/$1.out" 2>/dev/null); echo "${n:-0}"; }
# stats NAME FD: the browser's RTP figures now, as "received sent level state"
stats() {   # (seen, not n: wait_for has a local n of its own)
	local who=$1 seen; seen=$(said_n "$who" stats)
	echo stats >&"$2"
	wait_for 5 eval '[ "$(said_n "$who" stats)" -gt "$seen" ]' || return 1
	grep '"ev":"stats"' "$SIPW/$who.out" | tail -1 | jq -r '"\(.received) \(.sent) \(.level) \(.state)"'
}
# media_both NAME FD TAG: the browser receives audio (packets, a level above
# silence) and sends it (the carrier's hearing is judged once its recording
# is closed: carrier_heard)
media_both() {
	local s; s=$(stats "$1" "$2")
	echo "# $3: browser received/sent packets, level, state: $s"
	read -r rcv snt lvl st <<< "$s"
	check "$3_browser_connected" [ "$st" = connected ]
	check "$3_browser_receives" [ "${rcv:-0}" -gt 100 ]
	check "$3_browser_hears_sound" awk -v l="${lvl:-0}" 'BEGIN { exit !(l > 0.01) }'
	check "$3_browser_sends" [ "${snt:-0}" -gt 100 ]
}
# carrier_heard TAG: the carrier's last call had the browser's 440 Hz in it
carrier_heard() { check "$1_carrier_hears_browser" has_freq "$(bs_heard c)" 440; }

# ------------------------------------------------ registration over wss
phone p 1001 acme-pass-1001 7
check browser_registered wait_for 30 said p registered || { echo "# phone: $(tail -c 600 "$SIPW/p.err")"; }
check kamailio_has_ws_contact eval 'CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" ul.lookup "[\"location\",\"1001@acme.cc.test\"]" | grep -q "transport=ws"'

# ------------------------------------------------ a carrier's call rings it
bs_cmd c dial "sip:$NUM@127.0.0.1:$CC_SIP_PORT"
check inbound_rang_browser wait_for 20 said p incoming
check inbound_confirmed wait_for 20 said p confirmed
check inbound_carrier_in_call wait_for 10 bs_in_call c
sleep 5
media_both p 7 inbound
bs_cmd c hangup
check inbound_ended_in_browser wait_for 10 said p ended
carrier_heard inbound
check inbound_record wait_for 20 eval '[ "$(sql "SELECT count(*) FROM cc.calls WHERE to_number = '"'$NUM'"' AND agent = '"'1001'"' AND answered_at IS NOT NULL AND ended_at IS NOT NULL")" = 1 ]'

# ------------------------------------------------ the browser calls the PSTN
sleep 1
c0=$(grep -ac 'Call established' "$SIPW/bs/c/out") e0=$(grep -ac -E 'Call with .* terminated|session closed' "$SIPW/bs/c/out")
echo "call sip:+8613800000001@acme.cc.test" >&7
check outbound_confirmed wait_for 20 eval '[ "$(said_n p confirmed)" -ge 2 ]'
check outbound_carrier_answered wait_for 10 eval '[ "$(grep -ac "Call established" "$SIPW/bs/c/out")" -gt "$c0" ]'
sleep 5
media_both p 7 outbound
echo hangup >&7
check outbound_ended_in_browser wait_for 10 eval '[ "$(said_n p ended)" -ge 2 ]'
check outbound_carrier_ended wait_for 10 eval '[ "$(grep -ac -E "Call with .* terminated|session closed" "$SIPW/bs/c/out")" -gt "$e0" ]'
carrier_heard outbound
check outbound_record wait_for 20 eval '[ "$(sql "SELECT count(*) FROM cc.calls WHERE to_number = '"'+8613800000001'"' AND direction = '"'outbound'"' AND answered_at IS NOT NULL AND ended_at IS NOT NULL")" = 1 ]'

# ------------------------------------------------ an ACD call to a browser agent
# mediad's plain RTP leg to the browser: rtpengine offers the browser ICE
# and DTLS-SRTP (route[RTPE_OFFER]), the answer goes back to mediad plain
api POST /v1/tenants/acme/queues "${KEY[acme]}" '{"name":"front","strategy":"longest_idle","ring_timeout_s":10,"wrapup_s":0,"max_wait_s":0}'
check queue_front [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api PATCH /v1/tenants/acme/agents/1001 "${KEY[acme]}" '{"queues":{"front":1}}'
check agent_in_front [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
QNUM=+8657100000002
assign_number acme "$QNUM"
api POST /v1/tenants/acme/numbers "${KEY[acme]}" "{\"e164\":\"$QNUM\",\"target\":{\"type\":\"queue\",\"name\":\"front\"}}"
check queue_number [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
check mediad_alive wait_for 20 media_alive 1
api PUT /v1/tenants/acme/agents/1001/state "${KEY[acme]}" '{"state":"ready"}'
check browser_agent_ready [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
sleep 1
e0=$(grep -ac -E 'Call with .* terminated|session closed' "$SIPW/bs/c/out")
bs_cmd c dial "sip:$QNUM@127.0.0.1:$CC_SIP_PORT"
check queue_call_rang_browser wait_for 20 eval '[ "$(said_n p incoming)" -ge 2 ]'
check queue_call_confirmed wait_for 20 eval '[ "$(said_n p confirmed)" -ge 3 ]'
sleep 5
media_both p 7 queue
bs_cmd c hangup
check queue_call_ended_in_browser wait_for 10 eval '[ "$(said_n p ended)" -ge 3 ]'
check queue_call_carrier_ended wait_for 10 eval '[ "$(grep -ac -E "Call with .* terminated|session closed" "$SIPW/bs/c/out")" -gt "$e0" ]'
carrier_heard queue
check queue_call_record wait_for 20 eval '[ "$(sql "SELECT count(*) FROM cc.calls WHERE to_number = '"'$QNUM'"' AND agent = '"'1001'"' AND answered_at IS NOT NULL AND ended_at IS NOT NULL")" = 1 ]'

# ------------------------------------------------ refusals
ws_handshake() { # URL ORIGIN: the HTTP status of a WebSocket handshake
	curl -sk -o /dev/null -w '%{http_code}' --max-time 3 --http1.1 -H "Upgrade: websocket" \
		-H "Connection: Upgrade" -H "Sec-WebSocket-Version: 13" -H "Sec-WebSocket-Protocol: sip" \
		-H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" -H "Origin: $2" "$1"
}
expect_eq ws_right_origin_101 "$(ws_handshake "https://127.0.0.1:$CC_SIP_TLS_PORT/" "https://127.0.0.1:$CC_API_PORT")" 101
expect_eq ws_other_origin_403 "$(ws_handshake "https://127.0.0.1:$CC_SIP_TLS_PORT/" "https://evil.example")" 403
expect_eq ws_no_origin_403 "$(ws_handshake "https://127.0.0.1:$CC_SIP_TLS_PORT/" "")" 403
expect_eq ws_plain_tcp_404 "$(ws_handshake "http://127.0.0.1:$CC_SIP_PORT/" "https://127.0.0.1:$CC_API_PORT")" 404
phone bad 1001 wrong-password 8
check wrong_password_not_registered wait_for 30 said bad error
check wrong_password_said_why grep -q 'registration' "$SIPW/bad.out"
check wrong_password_no_registered not said bad registered
[ "$FAILED" = 0 ] || { echo "# the browser said:"; sed 's/^/#   /' "$SIPW/p.out"; tail -c 1500 "$SIPW/p.err" | sed 's/^/#   /'; }
echo quit >&7
exit $FAILED
