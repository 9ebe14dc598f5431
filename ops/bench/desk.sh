#!/usr/bin/env bash
# The agent desktop's own figures (part of make bench, docs/DESK.md):
#   pop    DESK_CALLS (100) queue calls from a carrier (baresip) to agent
#          1001 signed in on /desk/ in headless Chromium, auto-answering;
#          each call's time from the INVITE reaching the page (JsSIP's
#          newRTCSession) to the screen pop on it (the customer and the
#          last calls shown), as the page measures it (window.ccDesk.popMs).
#          Compared in the same run with the lookup alone (curl, DESK_CALLS
#          GET .../lookup on one kept-alive connection) and with the
#          target, 300 ms. The tenant has DESK_CUSTOMERS (100,000)
#          customers (CSV import); ops/bench/lookup.sh measures the lookup
#          at 1,000,000.
#   load   the page's load in a fresh browser context, DESK_LOADS (20)
#          times: bytes on the wire, requests, navigation to load event;
#          beside the same for /desk/config.json (the floor: TLS, HTTP,
#          the browser).
# Prints medians and p99 and the ratios.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=deskbench
. "$TOP/tests/lib.sh"
: "${DESK_CALLS:=100}" "${DESK_CUSTOMERS:=100000}" "${DESK_LOADS:=20}"
WEB=$TOP/tenantd/web
DPID=""
trap 'exec 7>&- 2>/dev/null; [ -n "$DPID" ] && kill $DPID 2>/dev/null; bs_stop_all; stack_down' EXIT
stack_up > /dev/null || { echo "# desk bench: the stack did not start"; exit 1; }
echo "# desk bench, $(date -u +%FT%TZ); machine: $(nproc) cores, shared; $(chromium --version 2>/dev/null)"
AUD=$SIPW/audio; mkdir -p "$AUD"
tone_wav "$AUD/1000.wav" 1000 600
sox -n -r 48000 -c 1 -b 16 -e signed-integer "$AUD/440.wav" synth 600 sine 440 gain -6

new_tenant acme > /dev/null
new_agent acme 1001 acme-pass-1001 > /dev/null
A=${KEY[acme]}
api POST /v1/tenants/acme/queues "$A" '{"name":"front","strategy":"longest_idle","ring_timeout_s":20,"wrapup_s":0,"max_wait_s":0}'
[ "$HTTP" = 201 ] || { echo "# queue: HTTP $HTTP"; exit 1; }
api PATCH /v1/tenants/acme/agents/1001 "$A" '{"queues":{"front":1}}'
QNUM=+8657100000002
assign_number acme "$QNUM" > /dev/null
api POST /v1/tenants/acme/numbers "$A" "{\"e164\":\"$QNUM\",\"target\":{\"type\":\"queue\",\"name\":\"front\"}}"
api PUT /v1/tenants/acme/customer-fields "$A" '{"items":[{"name":"plate","type":"text","pop":true}]}'
# the customers: +86138<8 digits>; the caller is customer 0, with 10 calls of history
awk -v n="$DESK_CUSTOMERS" 'BEGIN { print "name,phones,plate"
	for (i = 0; i < n; i++) printf "客户%d,+86138%08d,浙A%05d\n", i, i, i % 100000 }' > "$CC_VAR/c.csv"
HTTP=$(curl -sk -o "$CC_VAR/imp.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $A" \
	-H 'Content-Type: text/csv' --data-binary "@$CC_VAR/c.csv" "$API/v1/tenants/acme/customers/import")
[ "$HTTP" = 201 ] || { echo "# import: HTTP $HTTP $(head -c 300 "$CC_VAR/imp.json")"; exit 1; }
sql "INSERT INTO cc.calls (id, tenant_id, direction, from_number, to_number, agent, started_at, talk_seconds, disposition, result)
     SELECT gen_random_uuid(), '${TID[acme]}', 'inbound', '+8613800000000', '$QNUM', '1001',
            now() - make_interval(days => g), 60 + g, 'consultation', 'answered'
     FROM generate_series(1, 10) g; ANALYZE cc.calls; ANALYZE cc.customers; ANALYZE cc.customer_phones;" > /dev/null
BS_SIP[c1]=$(pick_port 2); new_trunk carrier-c1 "${BS_SIP[c1]}" > /dev/null
bs_peer c1 "$AUD/1000.wav" +8613800000000
wait_for 20 eval 'trunk_known "${BS_SIP[c1]}"' || { echo "# the trunk was not loaded"; exit 1; }
wait_for 20 media_alive 1 || { echo "# mediad is not alive"; exit 1; }

mkfifo "$SIPW/desk.in"
node "$WEB/test/desk.mjs" "$API/desk/" "$AUD/440.wav" < "$SIPW/desk.in" > "$SIPW/desk.out" 2> "$SIPW/desk.err" &
DPID=$!
exec 7> "$SIPW/desk.in"
# Chromium's first start on a new machine takes a while: its first line
wait_for 120 eval 'grep -q "\"ready\"" "$SIPW/desk.out" 2>/dev/null' || echo "# the desk page did not load: $(tail -c 400 "$SIPW/desk.err")"
ask() {
	local ask_lines; ask_lines=$(wc -l < "$SIPW/desk.out")
	echo "$*" >&7
	wait_for 30 eval '[ "$(wc -l < "$SIPW/desk.out")" -gt "$ask_lines" ]' || { ANS='{}'; return 1; }
	ANS=$(sed -n "$((ask_lines + 1))p" "$SIPW/desk.out")
}
aj() { jq -r "$1" <<< "$ANS"; }
ask signin acme 1001 acme-pass-1001
[ "$(aj .error)" = "" ] || { echo "# sign-in: $ANS"; exit 1; }
ask wait_sip
[ "$(aj .sip)" = on ] || { echo "# the page's phone is not online"; exit 1; }
ask click autoanswer
ask click ready
in_call() { ask page; [ "$(aj .call)" = "通话中" ]; }
call_gone() { ask page; [ -z "$(aj .call)" ]; }
agent_ready() { api GET /v1/tenants/acme/agents/1001/state "$A"; [ "$(jr .state)" = ready ]; }
wait_for 10 agent_ready || { echo "# the agent is not ready"; exit 1; }

# ------------------------------------------------ pop: DESK_CALLS calls
t0=$(date +%s)
missed=0
for ((i = 1; i <= DESK_CALLS; i++)); do
	bs_cmd c1 dial "sip:$QNUM@127.0.0.1:$CC_SIP_PORT"
	wait_for 20 in_call || missed=$((missed + 1))
	bs_cmd c1 hangup
	wait_for 15 call_gone
	wait_for 15 agent_ready
	((i % 20 == 0)) && echo "# $i calls ($(( $(date +%s) - t0 )) s)"
done
ask page
aj '.popMs[]' | sort -n > "$CC_VAR/pop.ms"
# the lookup alone, from curl, the same number as many times
cfg=$CC_VAR/lookup.cfg; : > "$cfg"
for ((i = 0; i < DESK_CALLS; i++)); do
	echo "url = \"$API/v1/tenants/acme/lookup?number=%2B8613800000000\"" >> "$cfg"
	echo 'output = "/dev/null"' >> "$cfg"
done
curl -sk -H "Authorization: Bearer $A" -w '%{time_total} %{time_pretransfer}\n' -K "$cfg" |
	awk '{ printf "%.3f\n", ($1 - $2) * 1000 }' | sort -n > "$CC_VAR/lookup.ms"
q() { awk -v p="$2" '{ t[NR] = $1 } END { if (NR) printf "%.1f", t[int(NR * p) + (NR * p == int(NR * p) ? 0 : 1)] ; else printf "-" }' "$1"; }
pops=$(wc -l < "$CC_VAR/pop.ms")
pop50=$(q "$CC_VAR/pop.ms" 0.5) pop99=$(q "$CC_VAR/pop.ms" 0.99) popmax=$(q "$CC_VAR/pop.ms" 1)
lk50=$(q "$CC_VAR/lookup.ms" 0.5) lk99=$(q "$CC_VAR/lookup.ms" 0.99)
echo "# $DESK_CUSTOMERS customers; $DESK_CALLS calls, $pops pops measured, $missed not answered on the page"
echo "| measured | n | p50 | p99 | max |"
echo "|---|---|---|---|---|"
echo "| INVITE at the page → pop shown | $pops | $pop50 ms | $pop99 ms | $popmax ms |"
echo "| GET .../lookup alone (curl) | $(wc -l < "$CC_VAR/lookup.ms") | $lk50 ms | $lk99 ms | $(q "$CC_VAR/lookup.ms" 1) ms |"
awk -v p="$pop99" -v l="$lk99" 'BEGIN {
	printf "# pop p99 / target 300 ms: %.2f (%s); pop p99 / lookup p99: %.1f\n", p / 300, (p < 300 ? "under" : "OVER"), (l > 0 ? p / l : 0) }'

# ------------------------------------------------ load: the page
echo quit >&7
wait $DPID 2>/dev/null; DPID=""
node "$WEB/test/load.mjs" "$API/desk/" "$API/desk/config.json" "$DESK_LOADS" > "$CC_VAR/load.json" 2> "$CC_VAR/load.err" ||
	{ echo "# load: $(tail -c 300 "$CC_VAR/load.err")"; exit 1; }
jq -r '.page.ms[]' "$CC_VAR/load.json" | sort -n > "$CC_VAR/page.ms"
jq -r '.ref.ms[]' "$CC_VAR/load.json" | sort -n > "$CC_VAR/ref.ms"
pb=$(jq .page.bytes "$CC_VAR/load.json") pr=$(jq .page.requests "$CC_VAR/load.json")
rb=$(jq .ref.bytes "$CC_VAR/load.json")
p50=$(q "$CC_VAR/page.ms" 0.5) r50=$(q "$CC_VAR/ref.ms" 0.5)
echo "| loaded (fresh context, $DESK_LOADS times) | bytes on the wire | requests | median ms | max ms |"
echo "|---|---|---|---|---|"
echo "| /desk/ (page, css, script) | $pb | $pr | $p50 | $(q "$CC_VAR/page.ms" 1) |"
echo "| /desk/config.json (the floor) | $rb | $(jq .ref.requests "$CC_VAR/load.json") | $r50 | $(q "$CC_VAR/ref.ms" 1) |"
awk -v a="$p50" -v b="$r50" -v s="$pb" 'BEGIN { printf "# page load median / floor median: %.1f; %.0f kB on the wire\n", (b > 0 ? a / b : 0), s / 1024 }'
