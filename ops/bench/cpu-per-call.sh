#!/usr/bin/env bash
# CPU milliseconds per call, by process, at a fixed rate: where the full
# path's cost goes compared with the bare relay.
#   ops/bench/cpu-per-call.sh [RATE]        (default 300 calls/s)
# Runs ops/bench/run.sh at RATE for 30 s in each mode and reads the
# processes' CPU time (/proc/PID/stat utime+stime) over 20 s in the middle.
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
ms() { awk -v k="$2" '$1 == k { print $2 }' "/tmp/cpu-per-call-$1.ms"; }
full=$(ms full TOTAL) bare=$(ms bare TOTAL)
pipeline=$(awk -v a="$(ms full nats-server)" -v b="$(ms full postgres)" -v c="$(ms full billingd)" \
	'BEGIN { printf "%.2f", a + b + c }')
echo "# CPU per call: full $full ms, bare $bare ms, ratio bare / full $(awk -v f="$full" -v b="$bare" 'BEGIN { printf "%.2f", b / f }')"
echo "# event pipeline in the full path (nats-server + postgres + billingd): $pipeline ms per call"
echo "# highest ratio of rates with that pipeline on these cores: bare / (bare + pipeline) = $(awk -v b="$bare" -v p="$pipeline" 'BEGIN { printf "%.2f", b / (b + p) }')"
echo "# the 0.80 target leaves the full path $(awk -v b="$bare" 'BEGIN { printf "%.2f", b / 0.8 - b }') ms per call above the bare relay"
