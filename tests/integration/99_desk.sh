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
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
WEB=$TOP/tenantd/web
for need in "command -v chromium" "[ -d $WEB/node_modules/puppeteer-core ]" "[ -f $TOP/build/web/desk.js ]"; do
	eval "$need" > /dev/null || { fail desk_prerequisites "$need"; exit 1; }
done
ART=${CC_TEST_ARTEFACTS:-$TOP/build/test-artefacts}
mkdir -p "$ART"
DPID=""
trap 'exec 7>&- 2>/dev/null; [ -n "$DPID" ] && kill $DPID 2>/dev/null; bs_stop_all; stack_down' EXIT
stack_up || exit 1
AUD=$SIPW/audio; mkdir -p "$AUD"
tone_wav "$AUD/1000.wav" 1000 120
sox -n -r 48000 -c 1 -b 16 -e signed-integer "$AUD/440.wav" synth 120 sine 440 gain -6

new_tenant acme
new_agent acme 1001 acme-pass-1001
A=${KEY[acme]}
api POST /v1/tenants/acme/queues "$A" '{"name":"front","strategy":"longest_idle","ring_timeout_s":20,"wrapup_s":0,"max_wait_s":0}'
check queue_front [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api PATCH /v1/tenants/acme/agents/1001 "$A" '{"queues":{"front":1}}'
QNUM=+8657100000002
assign_number acme "$QNUM"
api POST /v1/tenants/acme/numbers "$A" "{\"e164\":\"$QNUM\",\"target\":{\"type\":\"queue\",\"name\":\"front\"}}"
check queue_number [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api PUT /v1/tenants/acme/customer-fields "$A" '{"items":[{"name":"plate","type":"text","pop":true},{"name":"note","type":"text","pop":true}]}'
check fields [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api POST /v1/tenants/acme/customers "$A" '{"name":"张伟","phones":["+8613800000001"],"fields":{"plate":"浙A12345","note":"<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>"},"tier":"vip"}'
check customer_zhang [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
for n in 李娜 王芳; do
	api POST /v1/tenants/acme/customers "$A" "{\"name\":\"$n\",\"phones\":[\"+8613800000002\"]}"
	check "customer_$n" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
done
for c in c1 c2; do BS_SIP[$c]=$(pick_port 2); new_trunk "carrier-$c" "${BS_SIP[$c]}"; done
bs_peer c1 "$AUD/1000.wav" +8613800000001
bs_peer c2 "$AUD/1000.wav" +8613800000002
check trunks_loaded wait_for 20 eval 'trunk_known "${BS_SIP[c1]}" && trunk_known "${BS_SIP[c2]}"'
check mediad_alive wait_for 20 media_alive 1

mkfifo "$SIPW/desk.in"
node "$WEB/test/desk.mjs" "$API/desk/" "$AUD/440.wav" < "$SIPW/desk.in" > "$SIPW/desk.out" 2> "$SIPW/desk.err" &
DPID=$!
exec 7> "$SIPW/desk.in"
# ask CMD: one command, its answer (the next line of desk.out) into $ANS
# (ask_lines, not n: wait_for has a local n of its own)
ask() {
	local ask_lines; ask_lines=$(wc -l < "$SIPW/desk.out")
	echo "$*" >&7
	wait_for 30 eval '[ "$(wc -l < "$SIPW/desk.out")" -gt "$ask_lines" ]' || { ANS='{}'; return 1; }
	ANS=$(sed -n "$((ask_lines + 1))p" "$SIPW/desk.out")
}
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
bs_cmd c1 dial "sip:$QNUM@127.0.0.1:$CC_SIP_PORT"
ask wait_call
check page_rings eval '[ "$(aj .from)" = "+8613800000001" ]' || echo "# $ANS"
ask page
check pop_customer_name eval 'grep -q "张伟" <<< "$(aj .customer)"' || echo "# $ANS"
check pop_field_plate eval 'grep -q "浙A12345" <<< "$(aj .customer)"'
check pop_markup_as_text eval 'grep -qF "<img src=x onerror=" <<< "$(aj .customer)"'
check pop_markup_never_ran [ "$(aj .xss)" = 0 ]
in_call() { ask page; [ "$(aj .call)" = "通话中" ]; }
check page_in_call wait_for 15 in_call || echo "# $ANS $(grep -v JsSIP "$SIPW/desk.err" | tail -c 1200)"
check carrier_in_call wait_for 10 bs_in_call c1
sleep 4
ask stats
echo "# page audio: $ANS"
check page_receives_audio eval '[ "$(aj .received)" -gt 100 ] && awk -v l="$(aj .level)" "BEGIN { exit !(l > 0.01) }"'
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
check back_to_ready wait_for 15 agent_ready

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
bs_cmd c2 hangup
check page_second_call_ended wait_for 15 call_gone

# ------------------------------------------------ an expired session
sql "UPDATE cc.desk_sessions SET created_at = now() - interval '9 hours', expires_at = now() - interval '1 hour'" > /dev/null
signin_again() { ask page; [ "$(aj .signin_visible)" = true ]; }
check expired_back_to_signin wait_for 10 signin_again
check expired_says_why eval '[ "$(aj .signin_error)" = "会话已结束，请重新登录" ]'
echo quit >&7
exit $FAILED
