#!/usr/bin/env bash
# routingd's decision time while the platform changes under it (part of
# make bench). One stack, DECISION_NUMBERS (1,000,000) numbers in
# DECISION_TENANTS (1,000) tenants, a prepaid tenant whose inbound calls are
# billed (every call gets a credit grant), and SIPp carrying DECISION_RATE
# (50) calls/s to an agent for the whole run, in three phases of
# DECISION_PHASE_S (20) seconds each:
#   steady    nothing else happens (the reference);
#   reloads   a platform notice every second (a new trunk), each a full
#             model build at a million numbers on the loader thread, and a
#             tenant's write every second (a one-tenant patch);
#   billingd  billingd is killed (-9) as the phase starts; its supervisor
#             starts it again a second later.
# At each phase's end it reads routingd's decision time over the last 10-20
# s (cc_routing_decision_recent_seconds_p50/p99: question in, answer queued)
# and prints it with its ratio to the steady phase's, and the calls that
# failed over the whole run (SIPp's count).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=decision
. "$TOP/tests/lib.sh"
: "${DECISION_NUMBERS:=1000000}" "${DECISION_TENANTS:=1000}" "${DECISION_RATE:=50}" "${DECISION_PHASE_S:=20}"
export CC_ROUTING_RELOAD_S=86400     # no periodic rebuild: the phases decide when
trap stack_down EXIT
stack_up > /dev/null || { echo "# decision bench: the stack did not start"; exit 1; }

metric() {
	curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
per=$((DECISION_NUMBERS / DECISION_TENANTS))
echo "# routingd decision time under reloads and a billingd restart, $(date -u +%FT%TZ)"
echo "# machine: $(nproc) cores, shared; $DECISION_NUMBERS numbers in $DECISION_TENANTS tenants; $DECISION_RATE calls/s; phases of $DECISION_PHASE_S s"

CARRIER=$(pick_port) A1001=$(pick_port)
new_trunk carrier1 "$CARRIER" > /dev/null
new_tenant acme > /dev/null
new_agent acme 1001 acme-pass-1001 > /dev/null
new_number acme +8657112345678 1001 > /dev/null
sip_register 1001 acme.cc.test acme-pass-1001 "$A1001" > /dev/null || { echo "# agent did not register"; exit 1; }
printf 'prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\n86,China,0.10,0,60,60,0\n' > "$CC_VAR/in.csv"
curl -sk -o /dev/null -X POST -H "Authorization: Bearer $OPERATOR" -H 'Content-Type: text/csv' \
	--data-binary "@$CC_VAR/in.csv" "$API/v1/tariffs?name=bench-in&currency=CNY&effective_from=2026-01-01T00:00:00Z"
api PUT /v1/tenants/acme/billing "$OPERATOR" '{"mode":"prepaid","currency":"CNY","tariffs":{"inbound":"bench-in"},"max_call_seconds":3600}'
api POST /v1/tenants/acme/billing/topups "$OPERATOR" '{"amount":"100000.00","reference":"bench"}'
bulk_tenants d "$DECISION_TENANTS" "$per" +86573
new_trunk carrier0 "$(pick_port)" > /dev/null    # a platform notice: the full build
big() { [ "$(metric cc_routing_model_numbers)" -gt "$DECISION_NUMBERS" ]; }
wait_for 180 big || { echo "# the model never held the numbers"; exit 1; }
echo "# full build at $(metric cc_routing_model_numbers) numbers: $(metric cc_routing_model_load_seconds) s"

calls=$((DECISION_RATE * (3 * DECISION_PHASE_S + 10)))
total_s=$((3 * DECISION_PHASE_S + 10 + calls / DECISION_RATE))
(cd "$SIPW" && exec timeout -s KILL $((total_s + 60)) sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/agent_uas.xml" \
	-p "$A1001" -m "$calls" -nostdin -timeout $((total_s + 40)) > agent-bench.out 2>&1) &
agent=$!
sleep 0.5
(cd "$SIPW" && exec timeout -s KILL $((total_s + 60)) sipp 127.0.0.1:"$CC_SIP_PORT" -i 127.0.0.1 -mp "$(pick_port 4)" \
	-sf "$SIPP_DIR/carrier_call.xml" -s +8657112345678 -set from +8613800000001 -p "$CARRIER" \
	-recv_timeout 15000 -m "$calls" -r "$DECISION_RATE" -d 1000 \
	-timeout $((total_s + 40)) -nostdin -trace_screen -screen_file bench.screen -trace_err -error_file bench.err > bench.out 2>&1) &
carrier=$!
sleep 10                                     # the load settles

declare -A P50 P99 N
sample() { P50[$1]=$(metric cc_routing_decision_recent_seconds_p50); P99[$1]=$(metric cc_routing_decision_recent_seconds_p99); N[$1]=$(metric cc_routing_decision_recent_count); }
sleep "$DECISION_PHASE_S"; sample steady

f0=$(( $(metric cc_routing_model_loads_total) - $(metric cc_routing_model_patches_total) ))
p0=$(metric cc_routing_model_patches_total)
for ((i = 0; i < DECISION_PHASE_S; i++)); do
	new_trunk "reload$i" "$(pick_port)" > /dev/null
	api POST /v1/tenants/acme/blocklist "${KEY[acme]}" "{\"e164\":\"+86139$(printf '%08d' "$i")\"}"
	sleep 1
done
sample reloads
full=$(( $(metric cc_routing_model_loads_total) - $(metric cc_routing_model_patches_total) - f0 ))
patches=$(( $(metric cc_routing_model_patches_total) - p0 ))

bpid=$(cat "$CC_VAR/run/billingd.pid")
kill -9 "$bpid"
sleep "$DECISION_PHASE_S"; sample billingd
restarted=$( [ "$(cat "$CC_VAR/run/billingd.pid")" != "$bpid" ] && kill -0 "$(cat "$CC_VAR/run/billingd.pid")" 2>/dev/null && echo yes || echo no)

wait "$carrier"; wait "$agent" 2>/dev/null
count() { awk -F'|' -v k="$1" '$0 ~ k { gsub(/ /, "", $3); v = $3 } END { print v + 0 }' "$SIPW/bench.screen"; }
ok=$(count "Successful call") failed=$(count "Failed call")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
us() { awk -v v="$1" 'BEGIN { printf "%.0f", v * 1e6 }'; }

echo
echo "| phase | decisions in the window | p50 | p99 | p99 / steady p99 |"
echo "|---|---|---|---|---|"
for ph in steady reloads billingd; do
	echo "| $ph | ${N[$ph]} | $(us "${P50[$ph]}") us | $(us "${P99[$ph]}") us | $(ratio "${P99[$ph]}" "${P99[steady]}") |"
done
echo "# reloads phase: $full full builds, $patches one-tenant patches; billingd restarted by its supervisor: $restarted"
echo "# calls: $ok answered, $failed failed of $calls"
# what the failed calls got, for the record
[ "$failed" != 0 ] && grep -ho 'SIP/2.0 [0-9]* [A-Za-z ]*\|Aborting call[^.]*\|timeout[^.]*' "$SIPW/bench.err" 2>/dev/null | sort | uniq -c | sed 's/^/# failed: /'
true
