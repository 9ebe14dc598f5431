#!/usr/bin/env bash
# The agent desktop in a browser (docs/DESK.md): headless Chromium on
# tenantd's /desk/ (tenantd/web/test/desk.mjs) signs in as agent 1001,
# goes ready, gets a queue call from the carrier (baresip), answers it and
# shows the screen pop: the caller's customer with its pop fields (one of
# them holds markup, which must show as text and never run) and the
# number's last calls; audio reaches the page. A number two customers
# share shows the picker. The page in zh-CN and in en, screenshots kept in
# $CC_TEST_ARTEFACTS (build/test-artefacts). A wrong password is refused on
# the page; an expired session sends it back to the sign-in.
# In the call: hold and back (the record counts it), another caller waiting
# shows in the queue's count; after it: the wrap-up with its time left and
# the disposition form (code, note, follow-up date), saved into the record
# and back to ready. Click-to-call from the customer's record reaches the
# carrier with the tenant's caller ID. A blind transfer to a second agent's
# browser (1002); that browser killed mid-call: the call ends (no RTP for
# CC_MEDIA_RTP_TIMEOUT_S), the agent is not left on a call. The WebSocket
# closed by the server: the page shows it, reconnects and registers again.
# Another agent's key on 1001's call: 404 for hold, transfer, disposition.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
WEB=$TOP/tenantd/web
for need in "command -v chromium" "[ -d $WEB/node_modules/puppeteer-core ]" "[ -f $TOP/build/web/desk.js ]"; do
	eval "$need" > /dev/null || { fail desk_prerequisites "$need"; exit 1; }
done
ART=${CC_TEST_ARTEFACTS:-$TOP/build/test-artefacts}
mkdir -p "$ART"
DPID="" DPID2=""
trap 'exec 7>&- 8>&- 2>/dev/null; kill $DPID $DPID2 2>/dev/null; bs_stop_all; stack_down' EXIT
# a browser that vanishes mid-call is hung up after this long without RTP
export CC_MEDIA_RTP_TIMEOUT_S=6
stack_up || exit 1
AUD=$SIPW/audio; mkdir -p "$AUD"
tone_wav "$AUD/1000.wav" 1000 120
sox -n -r 48000 -c 1 -b 16 -e signed-integer "$AUD/440.wav" synth 120 sine 440 gain -6

new_tenant acme
new_agent acme 1001 acme-pass-1001
A=${KEY[acme]}
new_agent acme 1002 acme-pass-1002
api POST /v1/tenants/acme/queues "$A" '{"name":"front","strategy":"longest_idle","ring_timeout_s":20,"wrapup_s":120,"max_wait_s":0}'
check queue_front [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api PATCH /v1/tenants/acme/agents/1001 "$A" '{"queues":{"front":1}}'
QNUM=+8657100000002
assign_number acme "$QNUM"
api POST /v1/tenants/acme/numbers "$A" "{\"e164\":\"$QNUM\",\"target\":{\"type\":\"queue\",\"name\":\"front\"}}"
check queue_number [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
# a menu that collects the account number, then the queue: the pop shows it
FNUM=+8657100000003
api PUT /v1/tenants/acme/flows/acct "$A" '{"start":"acct","nodes":{
  "acct":{"type":"collect","prompt":"please_hold","var":"account","min_digits":4,"max_digits":8,"terminator":"#","next":"q"},
  "q":{"type":"queue","queue":"front","fallback":"bye"},
  "bye":{"type":"hangup"}}}'
check flow_acct eval '[ "$HTTP" = 201 ] || [ "$HTTP" = 200 ]' || echo "# HTTP $HTTP $(cat "$RESP")"
assign_number acme "$FNUM"
api POST /v1/tenants/acme/numbers "$A" "{\"e164\":\"$FNUM\",\"target\":{\"type\":\"flow\",\"name\":\"acct\"}}"
check flow_number [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api PUT /v1/tenants/acme/customer-fields "$A" '{"items":[{"name":"plate","type":"text","pop":true},{"name":"note","type":"text","pop":true}]}'
check fields [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api POST /v1/tenants/acme/customers "$A" '{"name":"张伟","phones":["+8613800000001"],"fields":{"plate":"浙A12345","note":"<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>"},"tier":"vip"}'
check customer_zhang [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
for n in 李娜 王芳; do
	api POST /v1/tenants/acme/customers "$A" "{\"name\":\"$n\",\"phones\":[\"+8613800000002\"]}"
	check "customer_$n" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
done
BS_SIP[c1]=$(pick_port 2); new_trunk carrier-c1 "${BS_SIP[c1]}" "${BS_SIP[c1]}"   # and the way out
BS_SIP[c2]=$(pick_port 2); new_trunk carrier-c2 "${BS_SIP[c2]}"
pstn_enable acme "$QNUM"
api POST /v1/tenants/acme/keys "$A" '{"role":"agent","agent":"1002"}'
K1002=$(jr .token)
check agent_key_1002 [ -n "$K1002" ]
api POST /v1/tenants/acme/keys "$A" '{"role":"agent","agent":"1001"}'
K1001=$(jr .token)
bs_peer c1 "$AUD/1000.wav" +8613800000001
bs_peer c2 "$AUD/1000.wav" +8613800000002
check trunks_loaded wait_for 20 eval 'trunk_known "${BS_SIP[c1]}" && trunk_known "${BS_SIP[c2]}"'
check mediad_alive wait_for 20 media_alive 1

mkfifo "$SIPW/desk.in" "$SIPW/desk2.in"
node "$WEB/test/desk.mjs" "$API/desk/" "$AUD/440.wav" < "$SIPW/desk.in" > "$SIPW/desk.out" 2> "$SIPW/desk.err" &
DPID=$!
exec 7> "$SIPW/desk.in"
# Chromium's first start on a new machine takes a while: its first line
wait_for 120 eval 'grep -q "\"ready\"" "$SIPW/desk.out" 2>/dev/null' || echo "# the desk page did not load: $(tail -c 400 "$SIPW/desk.err")"
# ask_on FD PAGE CMD: one command, its answer (the next line of PAGE.out)
# into $ANS (ask_lines, not n: wait_for has a local n of its own)
ask_on() {
	local fd=$1 out=$SIPW/$2.out ask_lines; shift 2
	ask_lines=$(wc -l < "$out")
	echo "$*" >&"$fd"
	wait_for 30 eval '[ "$(wc -l < "$out")" -gt "$ask_lines" ]' || { ANS='{}'; return 1; }
	ANS=$(sed -n "$((ask_lines + 1))p" "$out")
}
ask() { ask_on 7 desk "$@"; }      # agent 1001's browser
ask2() { ask_on 8 desk2 "$@"; }    # agent 1002's
aj() { jq -r "$1" <<< "$ANS"; }

# ------------------------------------------------ sign-in on the page
ask page
check page_loads_zh eval '[ "$(aj .title)" = "坐席工作台" ] && [ "$(aj .signin_visible)" = true ]'
ask signin acme 1001 wrong-password
check page_wrong_password eval '[ "$(aj .error)" = "分机号或密码错误" ]'
ask signin acme 1001 acme-pass-1001
check page_signed_in eval '[ "$(aj .error)" = "" ]' || echo "# $ANS $(tail -c 300 "$SIPW/desk.err")"
ask wait_sip
check page_phone_online [ "$(aj .sip)" = on ] || echo "# $ANS"
check page_registered_ws eval 'CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" ul.lookup "[\"location\",\"1001@acme.cc.test\"]" | grep -q "transport=ws"'
ask click ready
agent_ready() { api GET /v1/tenants/acme/agents/1001/state "$A"; [ "$(jr .state)" = ready ]; }
check page_ready wait_for 10 agent_ready
page_state_is() { ask page; [ "$(aj .state)" = "$1" ]; }
check page_shows_ready wait_for 10 page_state_is ready

# ------------------------------------------------ a queue call and its pop
# auto-answer (the agent's setting, kept by the browser) for this call
ask click autoanswer
# through the menu: mediad answers, the caller keys the account number
bs_cmd c1 dial "sip:$FNUM@127.0.0.1:$CC_SIP_PORT"
check menu_answered wait_for 15 bs_in_call c1
sleep 1
bs_cmd c1 sndcode '1234#'
ask wait_call
check page_rings eval '[ "$(aj .from)" = "+8613800000001" ]' || echo "# $ANS"
ask page
check pop_customer_name eval 'grep -q "张伟" <<< "$(aj .customer)"' || echo "# $ANS"
check pop_field_plate eval 'grep -q "浙A12345" <<< "$(aj .customer)"'
check pop_markup_as_text eval 'grep -qF "<img src=x onerror=" <<< "$(aj .customer)"'
check pop_markup_never_ran [ "$(aj .xss)" = 0 ]
check pop_ivr_digits eval 'grep -q "account 1234" <<< "$(aj .ivr)"' || echo "# $ANS"
in_call() { ask page; [ "$(aj .call)" = "通话中" ]; }
check page_in_call wait_for 15 in_call || echo "# $ANS $(grep -v JsSIP "$SIPW/desk.err" | tail -c 1200)"
check carrier_in_call wait_for 10 bs_in_call c1
sleep 4
ask stats
echo "# page audio: $ANS"
check page_receives_audio eval '[ "$(aj .received)" -gt 100 ] && awk -v l="$(aj .level)" "BEGIN { exit !(l > 0.01) }"'
# the ACD's call id (hold, transfer and the disposition name it)
call_id_known() { ask page; [ -n "$(aj .callId)" ]; }
check page_knows_call_id wait_for 10 call_id_known
CALL1=$(aj .callId)
queues_say() { ask page; grep -qF "$1" <<< "$(aj .queues)"; }
check page_queue_count_0 wait_for 10 queues_say "front: 0"
# another agent's key on 1001's call: as if there were no such call
api POST "/v1/tenants/acme/calls/$CALL1/hold" "$K1002" '{}'
check other_agent_hold_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api POST "/v1/tenants/acme/calls/$CALL1/transfer" "$K1002" '{"target":{"type":"agent","name":"1002"}}'
check other_agent_transfer_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
# a second caller waits: the count shows it, then it gives up
bs_cmd c2 dial "sip:$QNUM@127.0.0.1:$CC_SIP_PORT"
check page_queue_count_1 wait_for 15 queues_say "front: 1"
bs_cmd c2 hangup
check page_queue_count_back_0 wait_for 15 queues_say "front: 0"
# hold and back: the ACD's hold (music to the caller), counted in the record
call_key_is() { ask page; [ "$(aj .callKey)" = "$1" ]; }
ask click hold
check page_on_hold wait_for 10 call_key_is on_hold || echo "# $ANS"
sleep 1
ask click hold
check page_off_hold wait_for 10 call_key_is in_call || echo "# $ANS"
ask shot "$ART/desk-zh-CN.png"
ask lang en
ask page
check page_in_english eval '[ "$(aj .title)" = "Agent desktop" ] && [ "$(aj .call)" = "In call" ]'
ask shot "$ART/desk-en.png"
ask lang zh-CN
check screenshots eval '[ -s "$ART/desk-zh-CN.png" ] && [ -s "$ART/desk-en.png" ]'
bs_cmd c1 hangup
call_gone() { ask page; [ -z "$(aj .call)" ]; }
check page_call_ended wait_for 15 call_gone

# ------------------------------------------------ the wrap-up and its form
wrap_shown() { ask page; [ "$(aj .state)" = wrapup ] && [ "$(aj .wrap)" = true ] && [ -n "$(aj .wrapLeft)" ]; }
check page_wrapup_form wait_for 10 wrap_shown || echo "# $ANS"
echo "# wrap-up on the page: $(aj .wrapLeft)"
# in wrap-up the agent has left the call: its own key no longer reaches it
api POST "/v1/tenants/acme/calls/$CALL1/hold" "$K1001" '{}'
check wrapup_agent_hold_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
FOLLOW=$(date -u -d '+7 days' +%F)
ask fill disp-note '回访 <b>rich</b>'
ask fill disp-follow "$FOLLOW"
codes_loaded() { ask page; [ -n "$(aj .code)" ]; }
check page_codes_loaded wait_for 10 codes_loaded
CODE=$(aj .code)
ask shot "$ART/desk-wrapup.png"
ask click disp-save
check wrapup_saved_ready wait_for 10 agent_ready
record_has() {
	api GET "/v1/tenants/acme/calls/$CALL1" "$A"
	[ "$(jr .disposition)" = "$CODE" ] && [ "$(jr .follow_up)" = "$FOLLOW" ] &&
		[ "$(jr .disposition_note)" = "回访 <b>rich</b>" ]
}
check record_disposition wait_for 20 record_has || echo "# $(cat "$RESP")"
check record_counts_hold eval '[ "$(sql "SELECT holds FROM cc.calls WHERE id = '"'$CALL1'"'")" = 1 ]'
api POST "/v1/tenants/acme/calls/$CALL1/disposition" "$K1002" "{\"code\":\"$CODE\"}"
check other_agent_disposition_404 [ "$HTTP" = 404 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api POST "/v1/tenants/acme/calls/$CALL1/disposition" "$A" "{\"code\":\"$CODE\",\"follow_up\":\"2020-01-01\"}"
check disposition_past_follow_up_422 eval '[ "$HTTP" = 422 ] && [ "$(jr .error.field)" = follow_up ]'
api POST "/v1/tenants/acme/calls/$CALL1/disposition" "$A" "{\"code\":\"$CODE\",\"follow_up\":\"2027-02-30\"}"
check disposition_bad_date_422 eval '[ "$HTTP" = 422 ] && [ "$(jr .error.field)" = follow_up ]'

# ------------------------------------------------ click-to-call from the record
ask page
check record_has_dial_button eval '[ "$(aj ".dials | length")" = 1 ]' || echo "# $ANS"
est0=$(grep -ac 'Call established' "$SIPW/bs/c1/out")
ask clicksel .dial 0
check click_to_call_up wait_for 20 in_call || echo "# $ANS $(grep -v JsSIP "$SIPW/desk.err" | tail -c 600)"
check click_to_call_carrier_answered wait_for 10 eval '[ "$(grep -ac "Call established" "$SIPW/bs/c1/out")" -gt "$est0" ]'
# the tenant's caller ID (its queue number), not the agent's extension
check click_to_call_caller_id grep -aqF "From: <sip:$QNUM@" "$SIPW/bs/c1/out"
ask click hangup
check click_to_call_ended wait_for 15 call_gone
check click_to_call_back_to_ready wait_for 15 agent_ready

# ------------------------------------------------ a shared number: the picker
# answered by hand this time
ask click autoanswer
bs_cmd c2 dial "sip:$QNUM@127.0.0.1:$CC_SIP_PORT"
ask wait_call
ask click answer
check page_answered_by_hand wait_for 15 in_call
ask page
check picker_two eval '[ "$(aj ".picker | length")" = 2 ] && [ "$(aj ".picker | sort | join(\",\")")" = "李娜,王芳" ]' || echo "# $ANS"
ask pick 1
ask page
check picked_shown eval 'grep -q "$(aj ".picker[1]")" <<< "$(aj .customer)"'
echo "# screen pop after the INVITE reached the page (ms): $(aj '.popMs | map(floor) | join(" ")')"
check pop_under_300ms eval '[ "$(aj ".popMs | max | floor")" -lt 300 ]'
# ------------------------------------------------ a blind transfer to 1002's browser
node "$WEB/test/desk.mjs" "$API/desk/" "$AUD/440.wav" < "$SIPW/desk2.in" > "$SIPW/desk2.out" 2> "$SIPW/desk2.err" &
DPID2=$!
exec 8> "$SIPW/desk2.in"
wait_for 120 eval 'grep -q "\"ready\"" "$SIPW/desk2.out" 2>/dev/null'
ask2 signin acme 1002 acme-pass-1002
check page2_signed_in eval '[ "$(aj .error)" = "" ]' || echo "# $ANS"
ask2 wait_sip
check page2_phone_online [ "$(aj .sip)" = on ]
ask2 click autoanswer
ended_n() { grep -ac -E 'Call with .* terminated|session closed' "$SIPW/bs/$1/out"; }
check page_knows_call_2 wait_for 10 call_id_known
CALL2=$(aj .callId)
E2=$(ended_n c2)
ask fill xfer-to 1002
ask click xfer-blind
in_call2() { ask2 page; [ "$(aj .call)" = "通话中" ]; }
check transfer_reached_1002 wait_for 20 in_call2 || echo "# $ANS $(grep -v JsSIP "$SIPW/desk2.err" | tail -c 600)"
check transfer_left_1001 wait_for 15 call_gone
check transfer_1001_wraps_up wait_for 10 page_state_is wrapup
check carrier_still_in_call [ "$(ended_n c2)" = "$E2" ]
sleep 3
ask2 stats
check page2_receives_audio eval '[ "$(aj .received)" -gt 50 ]' || echo "# $ANS"
ask click ready
check ready_ends_wrapup wait_for 10 agent_ready

# ------------------------------------------------ 1002's browser dies mid-call
mt0=$(curl -s "http://127.0.0.1:$CC_MEDIA_METRICS_PORT/metrics" | awk '/^cc_media_legs_rtp_timeout_total/ { print $2 }')
echo crash >&8
wait $DPID2 2>/dev/null; DPID2=""
check closed_browser_call_ended wait_for 30 eval '[ "$(ended_n c2)" -gt "$E2" ]'
check closed_browser_rtp_timeout eval '[ "$(curl -s "http://127.0.0.1:$CC_MEDIA_METRICS_PORT/metrics" | awk "/^cc_media_legs_rtp_timeout_total/ { print \$2 }")" -gt "${mt0:-0}" ]'
not_on_call_1002() { api GET /v1/tenants/acme/agents/1002/state "$A"; [ "$HTTP" = 200 ] && [ "$(jr .state)" != on_call ]; }
check closed_browser_agent_not_on_call wait_for 15 not_on_call_1002 || echo "# $(cat "$RESP")"
check closed_browser_call_record wait_for 20 eval '[ "$(sql "SELECT count(*) FROM cc.calls WHERE id = '"'$CALL2'"' AND ended_at IS NOT NULL")" = 1 ]'

# ------------------------------------------------ the WebSocket drops
ask page
# ws.dump lists "<id>: <src> -> <dst> (state: OPEN, ...)"; 1002's is gone
WSDUMP=$(CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" ws.dump 2>&1)
WSID=$(grep -oE '"[0-9]+: [^"]*OPEN' <<< "$WSDUMP" | grep -oE '^"[0-9]+' | tr -d '"' | tail -1)
check ws_connection_listed [ -n "$WSID" ] || echo "# $WSDUMP"
echo "# ws.dump: $(tr -d '\n' <<< "$WSDUMP" | head -c 300)"
CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" ws.close "[$WSID]" > /dev/null 2>&1
sip_went() { ask page; jq -e '.sipHistory | index("reconnecting")' <<< "$ANS" > /dev/null; }
check ws_drop_shown wait_for 15 sip_went || echo "# $ANS"
sip_back() { ask page; [ "$(aj .sip)" = on ]; }
check ws_reconnected wait_for 30 sip_back || echo "# $ANS"
check ws_registered_again wait_for 10 eval 'CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" ul.lookup "[\"location\",\"1001@acme.cc.test\"]" | grep -q "transport=ws"'

# ------------------------------------------------ an expired session
sql "UPDATE cc.desk_sessions SET created_at = now() - interval '9 hours', expires_at = now() - interval '1 hour'" > /dev/null
signin_again() { ask page; [ "$(aj .signin_visible)" = true ]; }
check expired_back_to_signin wait_for 10 signin_again
check expired_says_why eval '[ "$(aj .signin_error)" = "会话已结束，请重新登录" ]'
echo quit >&7
exit $FAILED
