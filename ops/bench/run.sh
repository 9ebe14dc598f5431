#!/usr/bin/env bash
# make bench: calls per second through the platform, measured with SIPp.
#
#   full path  SIPp carrier -> Kamailio -> routingd (evapi) -> SIPp agent,
#              rtpengine anchoring, events to NATS JetStream, records
#              written by billingd to PostgreSQL
#   bare relay the same Kamailio (same config, BARE_RELAY defined) and
#              rtpengine relaying the carrier's calls straight to the agent:
#              no routingd, no events, no records
#
# For each, the highest rate (calls/s) that runs BENCH_SECONDS (30) with
# zero failed calls and the offered rate actually reached: rates double
# from BENCH_START until a run fails, then BENCH_STEPS bisection steps
# (or BENCH_RATES, a list of rates probed in that order).
# Each call rings, is answered, talks BENCH_HOLD_MS (1000) and hangs up.
# Prints both figures and their ratio, and routingd's decision time
# (p50/p99 from its own histogram, scraped from its metrics endpoint at the
# end of each full-path probe); appends nothing by itself (copy the
# summary into docs/BENCHMARKS.md).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=bench
. "$TOP/tests/lib.sh"
: "${BENCH_SECONDS:=30}" "${BENCH_START:=100}" "${BENCH_MAX:=3200}" "${BENCH_STEPS:=3}"
: "${BENCH_HOLD_MS:=1000}" "${BENCH_MODES:=full bare}"
export CC_KAM_DEBUG=0 CC_LOG_LEVEL=warn
export CC_TEST_RTP_SPAN=20000   # 4 media ports per concurrent call
trap stack_down EXIT

CARRIER=$(pick_port) AGENT=$(pick_port)
OUT=$(mktemp -d /tmp/cc-bench.XXXXXX)

# fresh: every probe starts from a clean Kamailio and rtpengine (no
# dialogs or media sessions left by an overloaded probe), the agent
# registered, and billingd caught up with the events of the last probe.
fresh() {
	# routingd too: its decision-time histogram then covers one probe
	"$TOP/ops/stack.sh" stop kamailio rtpengine routingd > /dev/null 2>&1
	"$TOP/ops/stack.sh" start rtpengine kamailio routingd > /dev/null 2>&1 || return 1
	[ "$MODE" = full ] || return 0
	sip_register 1001 acme.cc.test acme-pass-1001 "$AGENT" > /dev/null || return 1
	local last=-1 now i
	for ((i = 0; i < 120; i++)); do
		now=$(psql_count)
		[ "$now" = "$last" ] && return 0
		last=$now
		sleep 1
	done
}

# probe RATE: 0 when RATE calls/s ran BENCH_SECONDS with no failure
probe() {
	fresh || { echo "  $MODE: the stack did not come back" >&2; return 1; }
	local rate=$1 total=$(( $1 * BENCH_SECONDS )) tag="$MODE-$1" uas rc
	# SIPp's own -timeout does not always fire under overload: timeout(1) backs it up
	(cd "$OUT" && exec timeout -s KILL $((BENCH_SECONDS * 3 + 40)) sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/agent_uas.xml" -p "$AGENT" \
		-m "$total" -nostdin -timeout $((BENCH_SECONDS * 3 + 30)) -max_socket 65000 -buff_size 4194304 \
		-trace_screen -screen_file "uas-$tag.screen" > "uas-$tag.out" 2>&1) &
	uas=$!
	sleep 0.5
	local t0; t0=$(date +%s.%N)
	(cd "$OUT" && timeout -s KILL $((BENCH_SECONDS * 3 + 30)) sipp 127.0.0.1:"$CC_SIP_PORT" -i 127.0.0.1 -mp "$(pick_port 4)" \
		-sf "$SIPP_DIR/carrier_call.xml" -s +8657112345678 -set from +8613800000001 -p "$CARRIER" \
		-default_behaviors all,-abortunexp -r "$rate" -rp 1000 -m "$total" -d "$BENCH_HOLD_MS" -nostdin -max_socket 65000 -buff_size 4194304 \
		-timeout $((BENCH_SECONDS * 3 + 20)) -timeout_error \
		-trace_err -error_file "uac-$tag.err" -trace_screen -screen_file "uac-$tag.screen" > "uac-$tag.out" 2>&1)
	rc=$?
	local t1; t1=$(date +%s.%N)
	kill "$uas" 2>/dev/null; wait "$uas" 2>/dev/null
	local ok failed p50 p99
	if [ "$MODE" = full ]; then
		curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" > "$OUT/metrics-$rate"
		p50=$(awk '$1 == "cc_routing_decision_seconds_p50" { printf "%.0f", $2 * 1e6 }' "$OUT/metrics-$rate")
		p99=$(awk '$1 == "cc_routing_decision_seconds_p99" { printf "%.0f", $2 * 1e6 }' "$OUT/metrics-$rate")
		echo "  $MODE: routingd decision time p50 ${p50:-?} us, p99 ${p99:-?} us" >&2
	fi
	ok=$(awk -F'|' '/Successful call/ {gsub(/ /, "", $3); print $3}' "$OUT/uac-$tag.screen" | tail -1)
	failed=$(awk -F'|' '/Failed call/ {gsub(/ /, "", $3); print $3}' "$OUT/uac-$tag.screen" | tail -1)
	# offered rate reached: calls over the time to place them (run time less one hold)
	local reached
	reached=$(awk -v n="${ok:-0}" -v a="$t0" -v b="$t1" -v h="$BENCH_HOLD_MS" \
		'BEGIN { d = b - a - h / 1000; if (d <= 0) d = 1; printf "%.0f", n / d }')
	printf '  %-10s %5d calls/s offered: %6s ok, %4s failed, %5s calls/s reached, sipp exit %d\n' \
		"$MODE" "$rate" "${ok:-?}" "${failed:-?}" "$reached" "$rc" >&2
	[ "$rc" = 0 ] && [ "${failed:-1}" = 0 ] && [ "${ok:-0}" = "$total" ] && \
		[ "$reached" -ge $(( rate * 95 / 100 )) ]
}

# best: the highest rate that passes (BENCH_RATES="800 500": exactly those
# rates, in that order, the highest passing one reported)
best() {
	local good=0 bad=0 r=$BENCH_START i
	if [ -n "${BENCH_RATES:-}" ]; then
		for r in $BENCH_RATES; do
			probe "$r" && [ "$r" -gt "$good" ] && good=$r
		done
		echo "$good"
		return
	fi
	while [ "$r" -le "$BENCH_MAX" ]; do
		if probe "$r"; then good=$r; r=$((r * 2)); else bad=$r; break; fi
	done
	[ "$bad" = 0 ] && { echo "$good"; return; }
	for ((i = 0; i < BENCH_STEPS; i++)); do
		r=$(( (good + bad) / 2 ))
		[ "$r" -le "$good" ] && break
		if probe "$r"; then good=$r; else bad=$r; fi
	done
	echo "$good"
}

psql_count() {
	PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p "$CC_PG_PORT" -U cc_admin -d cc \
		-tAc "SELECT count(*) FROM cc.calls WHERE ended_at IS NOT NULL"
}

provision() {
	new_trunk carrier1 "$CARRIER"
	new_tenant acme
	new_agent acme 1001 acme-pass-1001
	new_number acme +8657112345678 1001
}

echo "# cc-platform call-rate benchmark, $(date -u +%FT%TZ)"
echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME")"
echo "# Kamailio $(kamailio -v 2>/dev/null | awk 'NR==1 {print $3}'), rtpengine $(rtpengine --version 2>&1 | awk '{print $NF}'), $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -1)"
echo "# each call: INVITE/180/200/ACK, ${BENCH_HOLD_MS} ms of talk, BYE/200; ${BENCH_SECONDS} s per rate; zero failures"

full=0 bare=0
if [[ " $BENCH_MODES " == *" full "* ]]; then
MODE=full
stack_up || exit 1
provision
before=$(psql_count)
full=$(best)
sleep 5
records=$(( $(psql_count) - before ))
echo "# full path: $records call records written during the run" >&2
stack_down
fi

if [[ " $BENCH_MODES " == *" bare "* ]]; then
MODE=bare
export CC_BARE=127.0.0.1:$AGENT
stack_up || exit 1
new_trunk carrier1 "$CARRIER"
bare=$(best)
stack_down
unset CC_BARE
fi

decision="n/a"
if [ "$full" -gt 0 ] && [ -f "$OUT/metrics-$full" ]; then
	decision=$(awk '$1 == "cc_routing_decision_seconds_p50" { p50 = $2 * 1e6 }
		$1 == "cc_routing_decision_seconds_p99" { p99 = $2 * 1e6 }
		$1 == "cc_routing_decision_seconds_count" { n = $2 }
		END { printf "p50 %.0f us, p99 %.0f us over %d decisions (target p99 < 1000 us: %s)", p50, p99, n, p99 < 1000 ? "met" : "NOT met" }' "$OUT/metrics-$full")
fi
ratio=$(awk -v f="$full" -v b="$bare" 'BEGIN { if (b > 0 && f > 0) printf "%.2f", f / b; else print "n/a" }')
echo
echo "| path | highest rate with zero failed calls for ${BENCH_SECONDS} s |"
echo "|---|---|"
echo "| bare relay (Kamailio + rtpengine) | $bare calls/s |"
echo "| full path (+ routingd, NATS, billingd, PostgreSQL) | $full calls/s |"
echo "| ratio full / bare | $ratio (target >= 0.80) |"
echo "| routingd decision time at $full calls/s | $decision |"
[ -n "${BENCH_KEEP:-}" ] && echo "# SIPp files kept in $OUT" || rm -rf "$OUT"
