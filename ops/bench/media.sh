#!/usr/bin/env bash
# make bench: the media path. Concurrent calls with 20 ms G.711 (PCMU) in
# both directions, SIPp playing a pcap (tests/tools/rtppcap) on each side
# for the whole call, in two modes of the same run on the same stack:
#
#   relay  SIPp caller -> Kamailio -> SIPp agent; rtpengine relays the two
#          streams of each call (the platform as it was before mediad)
#   mediad SIPp caller -> Kamailio -> mediad (a flow whose start is the
#          agent) -> Kamailio -> SIPp agent; mediad bridges the caller's
#          leg and the agent's leg through its mixer (rtpengine anchors
#          both legs too, as it does every call's)
#
# For each mode the number of concurrent calls rises through
# BENCH_MEDIA_LOADS (20 40 80 160 240 320) until a step fails: a call that did
# not complete, or (mediad) a packet lost or a late mixer frame in the
# window. Over a steady window of BENCH_MEDIA_WINDOW_S (10) s with every
# call up it reads the CPU time (utime + stime, /proc/PID/stat) of
# rtpengine and mediad: CPU ms per call per second of call. Then it prints
# mediad's CPU per bridged call against rtpengine's per relayed call (the
# issue's target: at most 1), mediad's mixer time per frame p99 (a fresh
# mediad each step, so its histogram is that load's: the frames made and
# encoded, cc_media_mixer_frame_seconds) and the tick's sending after it
# (cc_media_send_seconds), and its counters, from its metrics. SIPp plays
# its pcaps through raw sockets, and the kernel offers every UDP packet
# on the machine to each of them (raw_local_deliver was 29 % of mediad's
# CPU at 160 IVR calls): every sender here, mediad and rtpengine alike,
# pays that per packet. Results go to docs/BENCHMARKS.md by hand.
#
#   ivr    SIPp caller -> Kamailio -> mediad, in a menu whose prompt plays
#          (the 46 s default hold music); the caller presses 1 every 3 s
#          (RFC 4733, tests/tools/rtppcap dtmf): each key stops the prompt
#          and starts another (please_hold), which the next key skips back
#          to the menu. Concurrent calls in an IVR playing prompts, and
#          mediad's DTMF-to-next-prompt latency
#          (cc_media_dtmf_to_prompt_seconds: the key as mediad got it to
#          the first frame of the prompt it led to) p99 per load.
#
#   queue     SIPp caller -> Kamailio -> mediad (the ACD queue benchq) ->
#             Kamailio -> one of BENCH_QUEUE_AGENTS agents (2001..), all
#             registered to one SIPp answering them: calls bridged at the
#             ACD's acd_bridge, the tenant's recording policy none
#   recorded  the same with the tenant's policy all: every call recorded
#             (two channels, Ogg Opus, encrypted, fsynced each second);
#             the step also waits for every recording's row to be complete
#             and prints the storage bytes per recorded minute from the rows
#             (ops/bench/recording.sh runs these two: the cost of recording)
#   The loads of these two are BENCH_QUEUE_LOADS (20 40 80 160).
#
# Not measured: loss between rtpengine and the SIPp peers (SIPp counts no
# received RTP; mediad's own lost counter is the criterion).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=bench-media
. "$TOP/tests/lib.sh"
BUILD=${CC_BUILD:-$TOP/build}
: "${BENCH_MEDIA_LOADS:=20 40 80 160 240 320}" "${BENCH_MEDIA_WINDOW_S:=10}" "${BENCH_MEDIA_RATE:=20}"
: "${BENCH_MEDIA_MODES:=relay mediad ivr}" "${BENCH_QUEUE_LOADS:=20 40 80 160}"
queue_modes=0
[[ " $BENCH_MEDIA_MODES " == *" queue "* || " $BENCH_MEDIA_MODES " == *" recorded "* ]] && queue_modes=1
: "${BENCH_QUEUE_AGENTS:=$(tr ' ' '\n' <<< "$BENCH_QUEUE_LOADS" | sort -n | tail -1)}"
export CC_KAM_DEBUG=0 CC_LOG_LEVEL=warn
export CC_TEST_RTP_SPAN=10000
HZ=$(getconf CLK_TCK)
trap stack_down EXIT
OUT=$(mktemp -d /tmp/cc-bench-media.XXXXXX)

have_mediad=1
[ -x "$BUILD/media/mediad" ] || have_mediad=0
if [ "$have_mediad" = 0 ] && [[ " $BENCH_MEDIA_MODES " != " relay " ]]; then
	echo "# mediad is not built ($BUILD/media/mediad): the relay mode only" >&2
	BENCH_MEDIA_MODES=relay
fi

# the streams: 10 min of a 440 Hz tone as 20 ms PCMU packets, both sides
sox -n -r 8000 -c 1 -e u-law -t raw "$OUT/tone.ul" synth 600 sine 440 gain -10
"$BUILD/tests/rtppcap" audio "$OUT/tone.pcap" "$OUT/tone.ul" 0 || { echo "rtppcap failed" >&2; exit 1; }
render "$SIPP_DIR/bench_caller.xml.in" "$OUT/caller.xml" "PCAP=$OUT/tone.pcap"
render "$SIPP_DIR/bench_agent.xml.in" "$OUT/agent.xml" "PCAP=$OUT/tone.pcap"
# the IVR caller: key 1 every 3 s for 90 s (RFC 4733, one stream)
"$BUILD/tests/rtppcap" dtmf "$OUT/keys.pcap" 111111111111111111111111111111 100 2900 ||
	{ echo "rtppcap dtmf failed" >&2; exit 1; }
sed -e 's|m=audio \[media_port\] RTP/AVP 0$|m=audio [media_port] RTP/AVP 0 101|' \
    -e 's|a=rtpmap:0 PCMU/8000$|a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-16|' \
    "$SIPP_DIR/bench_caller.xml.in" > "$OUT/ivr_caller.xml.in"
render "$OUT/ivr_caller.xml.in" "$OUT/ivr_caller.xml" "PCAP=$OUT/keys.pcap"
grep -q 'telephone-event' "$OUT/ivr_caller.xml" || { echo "the IVR caller offers no telephone-event" >&2; exit 1; }

stack_up || exit 1
# mediad's RTP ports: the test stack gives it 200 (100 legs, 50 bridged
# calls: the 51st got 500); here it takes the top 2000 of rtpengine's block
# of 10000 (stack.env wins over the environment: edited while they are
# stopped, as ops/stack.sh asks)
# routingd has mediad's heartbeat (its metric), so flows answer
media_back() { curl -s --max-time 2 "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | grep -q '^cc_routing_media_instances_alive 1$'; }
if [ "$have_mediad" = 1 ]; then
	"$TOP/ops/stack.sh" stop mediad rtpengine > /dev/null 2>&1
	top=$CC_RTP_MAX
	export CC_RTP_MAX=$((top - 2000)) CC_MEDIA_RTP_MIN=$((top - 1999)) CC_MEDIA_RTP_MAX=$top
	for k in CC_RTP_MAX CC_MEDIA_RTP_MIN CC_MEDIA_RTP_MAX; do
		sed -i "/^$k=/d" "$CC_VAR/stack.env"
		echo "$k=${!k}" >> "$CC_VAR/stack.env"
	done
	"$TOP/ops/stack.sh" start rtpengine mediad > "$OUT/restart.log" 2>&1 || { cat "$OUT/restart.log" >&2; exit 1; }
	wait_for 20 media_back || { echo "mediad not back after its port change" >&2; exit 1; }
fi
CARRIER=$(pick_port) AGENT=$(pick_port)
new_trunk carrier1 "$CARRIER"
new_tenant acme
new_agent acme 1001 acme-pass-1001
new_number acme +8657100000001 1001
if [ "$have_mediad" = 1 ]; then
	api PUT /v1/tenants/acme/flows/bench "${KEY[acme]}" \
		'{"start":"a","nodes":{"a":{"type":"agent","extension":"1001","timeout_s":20}}}'
	[ "$HTTP" = 201 ] || [ "$HTTP" = 200 ] || { echo "flow: HTTP $HTTP $(cat "$RESP")" >&2; exit 1; }
	assign_number acme +8657100000002
	api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657100000002","target":{"type":"flow","name":"bench"}}'
	[ "$HTTP" = 201 ] || { echo "flow number: HTTP $HTTP $(cat "$RESP")" >&2; exit 1; }
	api PUT /v1/tenants/acme/flows/benchivr "${KEY[acme]}" \
		'{"start":"m","nodes":{"m":{"type":"menu","prompt":"hold_music","timeout_s":30,"retries":3,"options":{"1":"p"},"default":"bye"},"p":{"type":"play","prompts":["please_hold"],"next":"m"},"bye":{"type":"hangup"}}}'
	[ "$HTTP" = 201 ] || [ "$HTTP" = 200 ] || { echo "IVR flow: HTTP $HTTP $(cat "$RESP")" >&2; exit 1; }
	assign_number acme +8657100000003
	api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657100000003","target":{"type":"flow","name":"benchivr"}}'
	[ "$HTTP" = 201 ] || { echo "IVR number: HTTP $HTTP $(cat "$RESP")" >&2; exit 1; }
fi
sip_register 1001 acme.cc.test acme-pass-1001 "$AGENT" > /dev/null || { echo "register failed" >&2; exit 1; }
# the queue modes: a queue, its number, and its agents registered (an hour:
# the whole run) to the one SIPp agent, each ready
if [ "$have_mediad" = 1 ] && [ "$queue_modes" = 1 ]; then
	api POST /v1/tenants/acme/queues "${KEY[acme]}" \
		'{"name":"benchq","strategy":"longest_idle","ring_timeout_s":20,"wrapup_s":0,"max_wait_s":0}'
	[ "$HTTP" = 201 ] || { echo "queue: HTTP $HTTP $(cat "$RESP")" >&2; exit 1; }
	assign_number acme +8657100000004
	api POST /v1/tenants/acme/numbers "${KEY[acme]}" '{"e164":"+8657100000004","target":{"type":"queue","name":"benchq"}}'
	[ "$HTTP" = 201 ] || { echo "queue number: HTTP $HTTP $(cat "$RESP")" >&2; exit 1; }
	echo "# registering $BENCH_QUEUE_AGENTS queue agents" >&2
	for ((i = 1; i <= BENCH_QUEUE_AGENTS; i++)); do
		ext=$((2000 + i))
		api POST /v1/tenants/acme/agents "${KEY[acme]}" \
			"{\"extension\":\"$ext\",\"name\":\"Agent $ext\",\"password\":\"bench-pass-$ext\",\"queues\":{\"benchq\":1}}"
		[ "$HTTP" = 201 ] || { echo "agent $ext: HTTP $HTTP $(cat "$RESP")" >&2; exit 1; }
		sipp_run "reg-$ext" -sf "$SIPP_DIR/register.xml" -set user "$ext" -set domain acme.cc.test \
			-set expires 3600 -au "$ext" -ap "bench-pass-$ext" -p "$AGENT" -m 1 -timeout 5 -timeout_error \
			> /dev/null || { echo "agent $ext: register failed" >&2; exit 1; }
		api PUT "/v1/tenants/acme/agents/$ext/state" "${KEY[acme]}" '{"state":"ready"}'
		[ "$HTTP" = 200 ] || { echo "agent $ext ready: HTTP $HTTP $(cat "$RESP")" >&2; exit 1; }
	done
fi
# ready_agents: how many of the queue's agents the ACD has ready
ready_agents() {
	api GET /v1/tenants/acme/queues/benchq/live "${KEY[acme]}"
	[ "$HTTP" = 200 ] && jr '[.agents[]? | select(.state == "ready")] | length'
}
trunk_known() { CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" permissions.addressDump | grep -q "\"port\":[[:space:]]*$CARRIER,"; }
wait_for 20 trunk_known || { echo "the trunk never loaded" >&2; exit 1; }

ticks() { # ticks PID: utime + stime
	local line rest
	read -r line < "/proc/$1/stat" 2>/dev/null || { echo 0; return; }
	rest=${line##*) }
	set -- $rest
	echo $(( ${12} + ${13} ))
}
# datagrams the kernel dropped at mediad's sockets (its RTP/RTCP port
# range; /proc/net/udp's drops column): what mediad's own lost counter
# cannot tell apart from loss upstream
udp_drops() {
	awk -v lo="${CC_MEDIA_RTP_MIN:-0}" -v hi="${CC_MEDIA_RTP_MAX:-0}" '
		function hex(h,   i, v) { v = 0; for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789ABCDEF", toupper(substr(h, i, 1))) - 1; return v }
		NR > 1 { split($2, a, ":"); p = hex(a[2]); if (p >= lo && p <= hi) d += $NF }
		END { print d + 0 }' /proc/net/udp
}
mmetric() { curl -s --max-time 2 "http://127.0.0.1:$CC_MEDIA_METRICS_PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
rtpe_pid() { cat "$CC_VAR/run/rtpengine.d.pid" 2>/dev/null || cat "$CC_VAR/run/rtpengine.pid"; }
media_pid() { cat "$CC_VAR/run/mediad.pid" 2>/dev/null; }

# step MODE CALLS: 0 when every call completed (and, mediad, nothing was
# lost or late in the window); prints one line of figures
step() {
	local mode=$1 n=$2 number=+8657100000001 tag="$1-$2" caller=$OUT/caller.xml
	[ "$mode" = mediad ] && number=+8657100000002
	[ "$mode" = ivr ] && number=+8657100000003 caller=$OUT/ivr_caller.xml
	local since
	if [ "$mode" = queue ] || [ "$mode" = recorded ]; then
		number=+8657100000004
		api PUT /v1/tenants/acme/recording "${KEY[acme]}" \
			"{\"policy\":\"$([ "$mode" = recorded ] && echo all || echo none)\"}"
		[ "$HTTP" = 200 ] || { echo "  recording policy: HTTP $HTTP $(cat "$RESP")" >&2; return 1; }
		since=$(sql "SELECT now()")
	fi
	# a fresh mediad per step: its mixer histogram (p50/p99 since start)
	# then covers this load alone
	if [ "$mode" != relay ]; then
		"$TOP/ops/stack.sh" stop mediad > /dev/null 2>&1
		"$TOP/ops/stack.sh" start mediad > /dev/null 2>&1 && wait_for 20 media_back ||
			{ echo "  mediad did not come back" >&2; return 1; }
	fi
	local ramp=$(( (n + BENCH_MEDIA_RATE - 1) / BENCH_MEDIA_RATE ))
	local hold_ms=$(( (ramp + BENCH_MEDIA_WINDOW_S + 6) * 1000 ))
	local uas=
	if [ "$mode" != ivr ]; then
		(cd "$OUT" && exec timeout -s KILL $((hold_ms / 1000 + ramp + 60)) sipp -i 127.0.0.1 -mp "$(pick_port 4)" \
			-sf "$OUT/agent.xml" -p "$AGENT" -m "$n" -nostdin -timeout $((hold_ms / 1000 + ramp + 50)) \
			-max_socket 65000 -trace_screen -screen_file "agent-$tag.screen" > "agent-$tag.out" 2>&1) &
		uas=$!
		sleep 0.5
	fi
	(cd "$OUT" && exec timeout -s KILL $((hold_ms / 1000 + ramp + 60)) sipp 127.0.0.1:"$CC_SIP_PORT" -i 127.0.0.1 \
		-mp "$(pick_port 4)" -sf "$caller" -s "$number" -set from +8613800000001 -p "$CARRIER" \
		-default_behaviors all,-abortunexp -r "$BENCH_MEDIA_RATE" -l "$n" -m "$n" -d "$hold_ms" -nostdin \
		-max_socket 65000 -timeout $((hold_ms / 1000 + ramp + 40)) -timeout_error \
		-trace_err -error_file "caller-$tag.err" -trace_screen -screen_file "caller-$tag.screen" \
		> "caller-$tag.out" 2>&1) &
	local uac=$!
	# every call up (ramp) plus 3 s to settle, then the window
	sleep $((ramp + 3))
	local rp mp r0 m0 r1 m1 lost0 late0 lost1 late1 in0 in1 drop0=0 drop1=0
	rp=$(rtpe_pid) mp=$(media_pid)
	r0=$(ticks "$rp") m0=0
	[ "$have_mediad" = 1 ] && m0=$(ticks "$mp") lost0=$(mmetric cc_media_rtp_packets_lost_total) \
		late0=$(mmetric cc_media_mixer_late_total) in0=$(mmetric cc_media_rtp_packets_in_total) \
		drop0=$(udp_drops)
	local legs; legs=$([ "$have_mediad" = 1 ] && mmetric cc_media_legs)
	# BENCH_MEDIA_PERF=DIR: a call-graph profile of the window (mediad in
	# its modes, rtpengine in the relay mode) into DIR/perf-MODE-CALLS.data;
	# perf's sampling costs the profiled process CPU: a profiled run's CPU
	# figures are not the benchmark's
	local perfpid=
	if [ -n "${BENCH_MEDIA_PERF:-}" ]; then
		local ppid=$mp
		[ "$mode" = relay ] && ppid=$rp
		mkdir -p "$BENCH_MEDIA_PERF"
		perf record -q -g -p "$ppid" -o "$BENCH_MEDIA_PERF/perf-$tag.data" -- sleep "$BENCH_MEDIA_WINDOW_S" \
			> /dev/null 2>&1 &
		perfpid=$!
	fi
	sleep "$BENCH_MEDIA_WINDOW_S"
	[ -n "$perfpid" ] && wait "$perfpid"
	r1=$(ticks "$rp") m1=0
	[ "$have_mediad" = 1 ] && m1=$(ticks "$mp") lost1=$(mmetric cc_media_rtp_packets_lost_total) \
		late1=$(mmetric cc_media_mixer_late_total) in1=$(mmetric cc_media_rtp_packets_in_total) \
		drop1=$(udp_drops)
	wait "$uac"; local rc=$?
	[ -n "$uas" ] && { kill "$uas" 2>/dev/null; wait "$uas" 2>/dev/null; }
	local okc failed
	okc=$(awk -F'|' '/Successful call/ {gsub(/ /, "", $3); print $3}' "$OUT/caller-$tag.screen" | tail -1)
	failed=$(awk -F'|' '/Failed call/ {gsub(/ /, "", $3); print $3}' "$OUT/caller-$tag.screen" | tail -1)
	local lost=0 late=0 pkts=0 p99=- cpu99=- snd99=- rcv99=- key99=- keys=0
	if [ "$mode" != relay ]; then
		lost=$(( ${lost1%.*} - ${lost0%.*} )) late=$(( ${late1%.*} - ${late0%.*} )) pkts=$(( ${in1%.*} - ${in0%.*} ))
		p99=$(awk -v v="$(mmetric cc_media_mixer_frame_seconds_p99)" 'BEGIN { printf "%.3f", v * 1000 }')
		cpu99=$(awk -v v="$(mmetric cc_media_mixer_frame_cpu_seconds_p99)" 'BEGIN { printf "%.3f", v * 1000 }')
		snd99=$(awk -v v="$(mmetric cc_media_send_seconds_p99)" 'BEGIN { printf "%.3f", v * 1000 }')
		rcv99=$(awk -v v="$(mmetric cc_media_recv_seconds_p99)" 'BEGIN { printf "%.3f", v * 1000 }')
		key99=$(awk -v v="$(mmetric cc_media_dtmf_to_prompt_seconds_p99)" 'BEGIN { printf "%.1f", v * 1000 }')
		keys=$(mmetric cc_media_dtmf_to_prompt_seconds_count)
	fi
	# CPU ms per call per second of call
	local w=$BENCH_MEDIA_WINDOW_S
	local rcpu mcpu
	rcpu=$(awk -v d=$((r1 - r0)) -v hz="$HZ" -v n="$n" -v w="$w" 'BEGIN { printf "%.3f", d * 1000 / hz / n / w }')
	mcpu=$(awk -v d=$((m1 - m0)) -v hz="$HZ" -v n="$n" -v w="$w" 'BEGIN { printf "%.3f", d * 1000 / hz / n / w }')
	printf '  %-6s %4d calls: %4s ok %3s failed (sipp %d); CPU ms per call-second: rtpengine %s, mediad %s; mediad legs %s, packets in %s, lost %s (dropped at its sockets %s), late frames %s, reading p99 %s ms, then mixer p99 %s ms (its CPU %s ms), then sending p99 %s ms; key to next prompt p99 %s ms over %s keys\n' \
		"$mode" "$n" "${okc:-?}" "${failed:-?}" "$rc" "$rcpu" "$mcpu" "${legs:--}" "$pkts" "$lost" "$((drop1 - drop0))" "$late" "$rcv99" "$p99" "$cpu99" "$snd99" "$key99" "${keys:-0}" >&2
	# recorded: every call's recording complete (each row committed after
	# its file's last fsync), and the storage per recorded minute
	local recs=0 per_min=-
	if [ "$mode" = recorded ]; then
		local i
		for ((i = 0; i < 30; i++)); do
			recs=$(sql "SELECT count(*) FROM cc.recordings WHERE started_at >= '$since' AND state = 'complete'")
			[ "$recs" -ge "$n" ] && break
			sleep 1
		done
		per_min=$(sql "SELECT round(sum(bytes) * 60000.0 / nullif(sum(duration_ms), 0)) FROM cc.recordings
		               WHERE started_at >= '$since' AND state = 'complete'")
		echo "  recorded $n calls: $recs recordings complete, ${per_min:--} bytes per recorded minute" \
		     "($(sql "SELECT count(*) FROM cc.recordings WHERE started_at >= '$since' AND state <> 'complete'") not complete)" >&2
	fi
	echo "$mode $n $rcpu $mcpu $p99 $cpu99 $key99 $snd99 $rcv99 $per_min" >> "$OUT/results"
	[ "$rc" = 0 ] && [ "${okc:-0}" = "$n" ] && [ "$lost" = 0 ] && [ "$late" = 0 ] &&
		{ [ "$mode" != recorded ] || [ "$recs" -ge "$n" ]; }
}

echo "# cc-platform media benchmark, $(date -u +%FT%TZ)"
echo "# machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), load $(cut -d' ' -f1-3 /proc/loadavg), $(. /etc/os-release; echo "$PRETTY_NAME")"
echo "# rtpengine $(rtpengine --version 2>&1 | awk '{print $NF}') (userspace, --num-threads=2), $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -1)"
echo "# each call: PCMU 20 ms both ways for its whole length; ${BENCH_MEDIA_WINDOW_S} s window with every call up; calls placed at ${BENCH_MEDIA_RATE}/s"
declare -A BEST
for mode in $BENCH_MEDIA_MODES; do
	BEST[$mode]=0
	loads=$BENCH_MEDIA_LOADS
	[ "$mode" = queue ] || [ "$mode" = recorded ] && loads=$BENCH_QUEUE_LOADS
	for n in $loads; do
		if [ "$mode" = queue ] || [ "$mode" = recorded ]; then
			# every agent back to ready (wrap-up 0) before the step
			wait_for 30 eval '[ "$(ready_agents)" -ge "$n" ]' ||
				{ echo "  only $(ready_agents) agents ready for $n calls" >&2; break; }
		fi
		if step "$mode" "$n"; then BEST[$mode]=$n; else break; fi
		# the calls' dialogs and media sessions gone before the next step
		sleep 3
	done
done

echo "# highest load with every call complete (and, mediad, nothing lost or late): relay ${BEST[relay]:--}, mediad ${BEST[mediad]:--}, ivr ${BEST[ivr]:--}"
if [ "$have_mediad" = 1 ] && [ -n "${BEST[mediad]:-}" ] && [ "${BEST[mediad]}" -gt 0 ]; then
	n=${BEST[mediad]}
	r=$(awk -v n="$n" '$1 == "relay" && $2 == n { print $3 }' "$OUT/results")
	m=$(awk -v n="$n" '$1 == "mediad" && $2 == n { print $4 }' "$OUT/results")
	# no relay step at that load: its highest one that passed
	[ -z "$r" ] && r=$(awk -v b="${BEST[relay]:-0}" '$1 == "relay" && $2 == b { print $3 }' "$OUT/results")
	[ -z "$r" ] && echo "# no rtpengine figure to compare with (BENCH_MEDIA_MODES=$BENCH_MEDIA_MODES)"
	[ -n "$r" ] && awk -v r="$r" -v m="$m" -v n="$n" 'BEGIN {
		printf "# at %d calls: mediad %.3f CPU ms per bridged call-second, rtpengine %.3f per relayed call-second: ratio mediad / rtpengine %.2f (target <= 1)\n",
		       n, m, r, (r > 0 ? m / r : 0) }'
	p99=$(awk -v n="$n" '$1 == "mediad" && $2 == n { print $5 }' "$OUT/results")
	echo "# mediad mixer time per 20 ms frame at $n calls (a fresh mediad per step): p99 $p99 ms (target < 1 ms)"
	echo "# mediad mixer CPU per 20 ms frame at $n calls: p99 $(awk -v n="$n" '$1 == "mediad" && $2 == n { print $6 }' "$OUT/results") ms; reading the tick's packets before it: p99 $(awk -v n="$n" '$1 == "mediad" && $2 == n { print $9 }' "$OUT/results") ms; sending them after it: p99 $(awk -v n="$n" '$1 == "mediad" && $2 == n { print $8 }' "$OUT/results") ms"
fi
if [ -n "${BEST[ivr]:-}" ] && [ "${BEST[ivr]}" -gt 0 ]; then
	n=${BEST[ivr]}
	awk -v n="$n" '$1 == "ivr" && $2 == n {
		printf "# IVR at %d calls playing prompts, a key every 3 s each: mediad %.3f CPU ms per call-second, mixer p99 %s ms (its CPU %s ms), sending p99 %s ms, key to next prompt p99 %s ms (target < 100 ms)\n", n, $4, $5, $6, $8, $7 }' "$OUT/results"
fi
if [ -n "${BEST[queue]:-}" ] || [ -n "${BEST[recorded]:-}" ]; then
	q=${BEST[queue]:-0} rr=${BEST[recorded]:-0}
	echo "# ACD calls bridged at no late frame: without recording ${BEST[queue]:--}, recorded ${BEST[recorded]:--}$( [ -n "${BEST[queue]:-}" ] && [ -n "${BEST[recorded]:-}" ] && [ "$q" -gt 0 ] && awk -v a="$rr" -v b="$q" 'BEGIN { printf " (ratio recorded / not %.2f)", a / b }')"
	n=$(( q < rr ? q : rr ))
	if [ "$n" -gt 0 ]; then
		awk -v n="$n" '$2 == n && $1 == "queue" { q = $4 } $2 == n && $1 == "recorded" { r = $4; m = $10 }
			END { printf "# at %d calls: mediad %.3f CPU ms per recorded call-second, %.3f per bridged call-second: ratio %.2f; calls per core at that cost: %.0f recorded, %.0f bridged; %s bytes per recorded minute\n",
			      n, r, q, (q > 0 ? r / q : 0), (r > 0 ? 1000 / r : 0), (q > 0 ? 1000 / q : 0), m }' "$OUT/results"
	fi
fi
echo "# raw: $OUT/results and the SIPp screens in $OUT"
