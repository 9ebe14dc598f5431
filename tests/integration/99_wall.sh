#!/usr/bin/env bash
# The supervisors' wallboard in a browser (docs/DESK.md "Wallboard"):
# headless Chromium on tenantd's /desk/wall (tenantd/web/test/wall.mjs).
# An agent is refused on the page ("not a supervisor"); supervisor 1005
# (a supervisor key, supervising front and back) signs in and sees both
# queues. Agent 1001 (baresip) answers a SIPp caller, agent 1002 is on a
# break, and a second SIPp caller waits: the board shows 1 waiting (the
# caller's number), the longest wait, the half hour's service level as the
# live view's counters say, the agents by state (on a call 1, not ready 1)
# with listen / whisper / barge on the agent on a call only; it refreshes
# at most once a second. Listen rings the supervisor's phone (mediad, as
# its own extension); stop ends it. Screenshots in zh-CN and en go to
# $CC_TEST_ARTEFACTS (build/test-artefacts). An expired session sends the
# page back to its sign-in.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
BUILD=${CC_BUILD:-$TOP/build}
WEB=$TOP/tenantd/web
for need in "command -v chromium" "[ -d $WEB/node_modules/puppeteer-core ]" "[ -f $TOP/build/web/wall.js ]" \
            "[ -x $BUILD/media/mediad ]"; do
	eval "$need" > /dev/null || { fail wall_prerequisites "$need"; exit 1; }
done
ART=${CC_TEST_ARTEFACTS:-$TOP/build/test-artefacts}
mkdir -p "$ART"
WPID=""
trap 'exec 7>&- 2>/dev/null; [ -n "$WPID" ] && kill $WPID 2>/dev/null; bs_stop_all; stack_down' EXIT
stack_up || exit 1
AUD=$SIPW/audio; mkdir -p "$AUD"
tone_wav "$AUD/250.wav" 250 120
tone_wav "$AUD/440.wav" 440 120

new_tenant acme
for e in 1001 1002 1005; do new_agent acme $e acme-pass-$e; done
A=${KEY[acme]}
for q in front back; do
	api POST /v1/tenants/acme/queues "$A" "{\"name\":\"$q\",\"strategy\":\"longest_idle\",\"ring_timeout_s\":20,\"wrapup_s\":0,\"max_wait_s\":0}"
	check "queue_$q" [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
done
for e in 1001 1002; do
	api PATCH "/v1/tenants/acme/agents/$e" "$A" '{"queues":{"front":1}}'
	check "member_$e" [ "$HTTP" = 200 ]
done
api PATCH /v1/tenants/acme/agents/1005 "$A" '{"supervises":["front","back"]}'
check supervises [ "$HTTP" = 200 ] || echo "# HTTP $HTTP $(cat "$RESP")"
api POST /v1/tenants/acme/keys "$A" '{"role":"supervisor","agent":"1005"}'
check supervisor_key [ "$HTTP" = 201 ]
QNUM=+8657100000002
assign_number acme "$QNUM"
api POST /v1/tenants/acme/numbers "$A" "{\"e164\":\"$QNUM\",\"target\":{\"type\":\"queue\",\"name\":\"front\"}}"
check queue_number [ "$HTTP" = 201 ] || echo "# HTTP $HTTP $(cat "$RESP")"
bs_start a1 "$AUD/250.wav" 1001 acme.cc.test acme-pass-1001
bs_start s "$AUD/440.wav" 1005 acme.cc.test acme-pass-1005
check registered_1001 wait_for 15 registered 1001@acme.cc.test
check registered_1005 wait_for 15 registered 1005@acme.cc.test
check mediad_alive wait_for 20 media_alive 1
state() { api PUT "/v1/tenants/acme/agents/$1/state" "$A" "{\"state\":\"$2\"${3:+,\"reason\":\"$3\"}}"; [ "$HTTP" = 200 ]; }
check a1_ready state 1001 ready
check a2_break state 1002 not_ready lunch
# caller TAG FROM SECONDS: a SIPp carrier caller into front, in the background
caller() {
	local port; port=$(pick_port)
	new_trunk "caller-$1" "$port" > /dev/null
	wait_for 20 trunk_known "$port"
	(sipp_run "caller-$1" -sf "$SIPP_DIR/carrier_call.xml" -s "$QNUM" -set from "$2" -p "$port" \
		-default_behaviors all,-abortunexp -m 1 -d "$(( $3 * 1000 ))" -timeout "$(( $3 + 5 ))" -timeout_error) &
	SIPP_PIDS="$SIPP_PIDS $!"
}

mkfifo "$SIPW/wall.in"
node "$WEB/test/wall.mjs" "$API/desk/wall" < "$SIPW/wall.in" > "$SIPW/wall.out" 2> "$SIPW/wall.err" &
WPID=$!
exec 7> "$SIPW/wall.in"
# Chromium's first start on a new machine takes a while: its first line
wait_for 120 eval 'grep -q "\"ready\"" "$SIPW/wall.out" 2>/dev/null' || echo "# the wallboard did not load: $(tail -c 400 "$SIPW/wall.err")"
# ask CMD: one command, its answer (the next line of wall.out) into $ANS
# (ask_lines, not n: wait_for has a local n of its own)
ask() {
	local ask_lines; ask_lines=$(wc -l < "$SIPW/wall.out")
	echo "$*" >&7
	wait_for 30 eval '[ "$(wc -l < "$SIPW/wall.out")" -gt "$ask_lines" ]' || { ANS='{}'; return 1; }
	ANS=$(sed -n "$((ask_lines + 1))p" "$SIPW/wall.out")
}
aj() { jq -r "$1" <<< "$ANS"; }
front() { aj ".queues[] | select(.name == \"front\") | $1"; }

# ------------------------------------------------ sign-in on the page
ask page
check page_loads_zh eval '[ "$(aj .title)" = "班长看板" ] && [ "$(aj .signin_visible)" = true ]' || echo "# $ANS $(tail -c 300 "$SIPW/wall.err")"
ask signin acme 1002 acme-pass-1002
check page_agent_refused eval '[ "$(aj .error)" = "此分机不是班长" ]' || echo "# $ANS"
ask signin acme 1005 wrong-password
check page_wrong_password eval '[ "$(aj .error)" = "分机号或密码错误" ]'
ask signin acme 1005 acme-pass-1005
check page_signed_in eval '[ "$(aj .error)" = "" ]' || echo "# $ANS $(tail -c 300 "$SIPW/wall.err")"
ask page
check page_both_queues eval '[ "$(aj "[.queues[].name] | join(\",\")")" = front,back ]' || echo "# $ANS"
board_quiet() { ask page; [ "$(front .waiting)" = 0 ] && [ "$(front '.agents | map(.ext + " " + .state) | join(",")')" = "1001 ready,1002 not_ready" ]; }
check page_agents_before_calls wait_for 10 board_quiet || echo "# $ANS"

# ------------------------------------------------ one on a call, one waiting
caller c1 +8613800000001 45
check c1_answered_by_1001 wait_for 20 n_is_past a1 0
caller c2 +8613800000002 40
waiting() { api GET /v1/tenants/acme/queues/front/live "$A"; [ "$HTTP" = 200 ] && [ "$(jr '.waiting | length')" = 1 ]; }
check c2_waits wait_for 20 waiting
board_busy() {
	ask page
	[ "$(front .waiting)" = 1 ] && [ "$(front '.agents | map(.ext + " " + .state) | join(",")')" = "1001 on_call,1002 not_ready" ]
}
check page_shows_waiting_and_states wait_for 10 board_busy || echo "# $ANS"
check page_waiting_caller [ "$(front '.callers[0][1]')" = +8613800000002 ]
check page_counts_by_state eval '[ "$(front .counts.on_call)" = 1 ] && [ "$(front .counts.not_ready)" = 1 ] && [ "$(front .counts.ready)" = null ]'
check page_state_labels_zh eval '[ "$(front ".agents[0].label")" = "通话中" ] && grep -q "未就绪 (lunch)" <<< "$(front ".agents[1].label")"'
check page_time_in_state eval 'grep -Eq "^[0-9]+:[0-9]{2}$" <<< "$(front ".agents[0].since")"'
check page_longest_wait eval 'grep -Eq "^[0-9]+:[0-9]{2}$" <<< "$(front .longest)"'
check page_monitor_buttons_on_call eval '[ "$(front ".agents[0].buttons | join(\",\")")" = listen,whisper,barge ] && [ "$(front ".agents[1].buttons | length")" = 0 ]'
# the service level as the live view's counters say (answered_in_sl / offered)
api GET /v1/tenants/acme/queues/front/live "$A"
SL=$(jq -r 'if .counters.offered > 0 then "\((100 * .counters.answered_in_sl / .counters.offered) | round)%" else "—" end' "$RESP")
echo "# counters: $(jq -c .counters "$RESP"), the page's service level: $(front .sl)"
check page_service_level [ "$(front .sl)" = "$SL" ]
check page_back_queue_empty eval '[ "$(aj ".queues[1].waiting")" = 0 ] && [ "$(aj ".queues[1].sl")" = "—" ]'
P0=$(aj .polls)
sleep 3
ask page
echo "# polls in 3 s: $(( $(aj .polls) - P0 ))"
check page_refreshes_at_most_1s eval '[ "$(( $(aj .polls) - P0 ))" -ge 1 ] && [ "$(( $(aj .polls) - P0 ))" -le 4 ]'

# ------------------------------------------------ monitor from the board
ask monitor 1001 listen
check page_listen_200 eval '[ "$(aj .monitor.status)" = 200 ] && [ "$(aj .monitor.mode)" = listen ]' || echo "# $ANS"
check supervisor_phone_rung wait_for 15 bs_in_call s
ask page
check page_monitoring_shows_stop eval '[ "$(front ".agents[0].buttons | join(\",\")")" = listen,whisper,barge,stop ]' || echo "# $ANS"
ask shot "$ART/wall-zh-CN.png"
ask lang en
ask page
check page_in_english eval '[ "$(aj .title)" = Wallboard ] && [ "$(front ".agents[0].label")" = "on a call" ] && [ "$(front ".agents[0].labels[0]")" = Listen ]' || echo "# $ANS"
ask monitor 1001 whisper
check page_whisper_200 eval '[ "$(aj .monitor.status)" = 200 ] && [ "$(aj .monitor.mode)" = whisper ]' || echo "# $ANS"
ask shot "$ART/wall-en.png"
check screenshots eval '[ -s "$ART/wall-zh-CN.png" ] && [ -s "$ART/wall-en.png" ]'
ask monitor 1001 stop
check page_stop eval '[ "$(aj .monitor.mode)" = stop ] && grep -q "1001" <<< "$(aj .status)"' || echo "# $ANS"
sup_signins() { sql "SELECT count(*) FROM cc.audit WHERE action = 'desk_sign_in' AND role = 'supervisor' AND actor LIKE 'desk:%'"; }
check page_signin_audited [ "$(sup_signins)" = 1 ]
ask lang zh-CN

# ------------------------------------------------ an expired session
sql "UPDATE cc.desk_sessions SET created_at = now() - interval '9 hours', expires_at = now() - interval '1 hour'" > /dev/null
signin_again() { ask page; [ "$(aj .signin_visible)" = true ]; }
check expired_back_to_signin wait_for 10 signin_again
check expired_says_why eval '[ "$(aj .signin_error)" = "会话已结束，请重新登录" ]'
echo quit >&7
exit $FAILED
