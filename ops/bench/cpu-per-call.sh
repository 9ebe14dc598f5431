#!/usr/bin/env bash
# CPU milliseconds per call, by process, at a fixed rate: where the full
# path's cost goes compared with the bare relay.
#   ops/bench/cpu-per-call.sh [RATE]        (default 300 calls/s)
# Runs ops/bench/run.sh at RATE for 30 s in each mode and reads the
# processes' CPU time (/proc/PID/stat utime+stime, SIPp included) over 20 s
# in the middle, then the ratio of the two paths' CPU per call and the
# ceiling the event pipeline puts on the ratio of their rates.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
RATE=${1:-300}
HZ=$(getconf CLK_TCK)

snapshot() {
	local p line comm rest
	for p in /proc/[0-9]*; do
		read -r line < "$p/stat" 2>/dev/null || continue
		comm=${line#*(}; comm=${comm%%)*}; comm=${comm// /_}
		rest=${line##*) }
		set -- $rest
		echo "$comm $(( ${12} + ${13} ))"
	done | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | LC_ALL=C sort
}

for mode in full bare; do
	BENCH_MODES=$mode BENCH_SECONDS=30 BENCH_START=$RATE BENCH_MAX=$RATE BENCH_STEPS=0 \
		"$TOP/ops/bench/run.sh" > "/tmp/cpu-per-call-$mode.out" 2>&1 &
	bench=$!
	# the stack takes ~8 s to start and the first probe ~1 s to warm up
	sleep 16; a=$(snapshot); sleep 20; b=$(snapshot)
	wait "$bench"
	echo "# $mode path at $RATE calls/s: CPU ms per call, 20 s sample"
	grep -a '^  ' "/tmp/cpu-per-call-$mode.out"
	LC_ALL=C join <(echo "$a") <(echo "$b") | awk -v hz="$HZ" -v n=$((RATE * 20)) '
		{ d = ($3 - $2) * 1000 / hz / n; if (d >= 0.01) printf "%-14s %5.2f\n", $1, d; t += d }
		END { printf "%-14s %5.2f\n", "TOTAL", t }' | sort -k2 -rn | tee "/tmp/cpu-per-call-$mode.ms"
done

# Both paths saturate the same two cores at their highest rates, so the
# ratio of their rates follows the ratio of their CPU per call. The event
# pipeline the full path must run (JetStream storing each call's events,
# billingd, PostgreSQL writing the records) bounds that ratio even if
# Kamailio's routing work and routingd cost nothing.
awk '
	FILENAME ~ /-full\.ms$/ { full[$1] = $2 }
	FILENAME ~ /-bare\.ms$/ { bare[$1] = $2 }
	END {
		f = full["TOTAL"]; b = bare["TOTAL"]
		if (f <= 0 || b <= 0) { print "# no ratio: a mode measured nothing (see /tmp/cpu-per-call-*.out)"; exit 1 }
		p = full["nats-server"] + full["postgres"] + full["billingd"]
		printf "# CPU per call: full %.2f ms, bare %.2f ms, ratio bare / full %.2f\n", f, b, b / f
		printf "# event pipeline in the full path (nats-server + postgres + billingd): %.2f ms per call\n", p
		printf "# highest ratio of rates with that pipeline on these cores: bare / (bare + pipeline) = %.2f\n", b / (b + p)
		printf "# the 0.80 target leaves the full path %.2f ms per call above the bare relay\n", b / 0.8 - b
	}' /tmp/cpu-per-call-full.ms /tmp/cpu-per-call-bare.ms
