# tests/lib.sh: helpers for integration tests, sourced by tests/integration/*.sh.
#
# stack_up starts a private platform (PostgreSQL, NATS, rtpengine,
# Kamailio, tenantd, routingd, billingd) on free loopback ports in a fresh
# temporary folder; stack_down stops it and removes the folder. Fake peers
# are SIPp scenarios from tests/sipp/. Each check writes one line to
# $CC_TEST_RESULTS ("ok" or "fail") which tests/run.sh adds up.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIPP_DIR=$TOP/tests/sipp
: "${CC_TEST_RESULTS:=/dev/null}"
SUITE=${SUITE:-$(basename "$0" .sh)}
FAILED=0

ok()   { printf 'ok - %s.%s\n' "$SUITE" "$1"; echo ok >> "$CC_TEST_RESULTS"; }
fail() { printf 'FAIL - %s.%s: %s\n' "$SUITE" "$1" "${2:-}"; echo fail >> "$CC_TEST_RESULTS"; FAILED=1; }
# check NAME CONDITION...: runs the condition; ok if it succeeds.
check() { local name=$1; shift; if "$@"; then ok "$name"; else fail "$name" "$*"; fi; }
# not CMD...: succeeds when CMD fails (for check, which runs a command)
not() { ! "$@"; }
# expect_eq NAME GOT WANT
expect_eq() { if [ "$2" == "$3" ]; then ok "$1"; else fail "$1" "got '$2', want '$3'"; fi; }

# natspub URL SUBJECT MSG-ID DATA: one event straight into JetStream
PUB=${CC_BUILD:-$TOP/build}/tests/natspub
uuid() { cat /proc/sys/kernel/random/uuid; }
# sql QUERY: one value (or rows) from the stack's database, as its admin
sql() { PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p "$CC_PG_PORT" -U cc_admin -d cc -tAc "$1"; }

# A real encrypted recording, as mediad's recorder writes one: tenant id $1,
# recording id $2, started on day $3 (YYYY/MM/DD), queue $4 (default sales).
# tests/tools/mkrec encrypts $CC_VAR/plain.ogg (200 kB of noise, made on
# first use) into the stack's store; its row goes in as 'complete'. Prints
# the file's path.
mkrec_row() {
	local out path ver wk bytes ab sha
	local pga="postgresql://cc_admin:$(cat "$CC_VAR/secrets/pg_admin")@127.0.0.1:$CC_PG_PORT/cc"
	[ -s "$CC_VAR/plain.ogg" ] || head -c 200000 /dev/urandom > "$CC_VAR/plain.ogg"
	out=$("${CC_BUILD:-$TOP/build}/tests/mkrec" "$pga" "$CC_VAR/secrets" "$CC_VAR/recordings" \
		"$1" "$2" "$3" "$CC_VAR/plain.ogg") || return 1
	read -r path ver wk bytes ab sha <<< "$out"
	sql "INSERT INTO cc.recordings (id, tenant_id, call_id, state, started_at, caller, callee, queue, agent,
	     path, kek_version, wrapped_key, bytes, audio_bytes, sha256) VALUES ('$2', '$1', gen_random_uuid(),
	     'complete', '${3//\//-}T10:00:00Z', '+4930666', '1001', '${4:-sales}', '1002', '$path', $ver,
	     decode('$wk', 'hex'), $bytes, $ab, '$sha')" > /dev/null
	echo "$path"
}
# sql_as ROLE QUERY: the same as one of the stack's roles (cc_routingd,
# cc_billingd, cc_tenantd, cc_app, kamailio); its error text on stderr
sql_as() {
	PGPASSWORD=$(cat "$CC_VAR/secrets/pg_$1") psql -h 127.0.0.1 -p "$CC_PG_PORT" -U "$1" -d cc -tAXc "$2"
}

# ------------------------------------------------------------------ ports
# Ports already handed out, in a file: pick_port runs in $(...), so a
# shell variable would forget them. stack_down removes it; a later pick
# (the benchmark's second stack) starts it again.
PICKED=$(mktemp /tmp/cc-ports.XXXXXX)
SIPP_PIDS=""
# pick_port [N]: the first of N consecutive free ports (N = 4 for a SIPp
# media base: it binds audio and video RTP/RTCP from there)
pick_port() {
	local n=${1:-1} p i busy
	while :; do
		p=$((20000 + RANDOM % 10000))
		busy=
		for ((i = p; i < p + n; i++)); do
			if grep -qsx "$i" "$PICKED" || ss -Htuan "sport = :$i" 2>/dev/null | grep -q .; then
				busy=1
				break
			fi
		done
		[ -n "$busy" ] && continue
		seq "$p" $((p + n - 1)) >> "$PICKED"
		echo "$p"
		return
	done
}

# pick_media_rtp: the first port of 200 free ones in 60000-64999 (outside
# every rtpengine block stack_try picks, 40000-59999)
pick_media_rtp() {
	local p
	while :; do
		p=$((60000 + (RANDOM % 25) * 200))
		grep -qsx "media-$p" "$PICKED" && continue
		ss -Htuan "sport >= :$p and sport <= :$((p + 199))" 2>/dev/null | grep -q . && continue
		echo "media-$p" >> "$PICKED"
		echo "$p"
		return
	done
}

# ------------------------------------------------------------------ stack
# Kamailio's RPC has no port any more; 20_sip.sh still names the variable
# when it calls ops/kamrpc.sh (which ignores it)
export CC_RPC_PORT=${CC_RPC_PORT:-}

stack_up() {
	local attempt
	for attempt in 1 2; do
		stack_try && return 0
		# a start can lose a race for a port another process grabbed after
		# pick_port looked; say why, then try once more on fresh ports
		echo "# stack start failed (attempt $attempt):"
		sed 's/^/#   /' "$CC_VAR/stack-start.log"
		"$TOP/ops/stack.sh" stop > /dev/null 2>&1
		[ "$attempt" = 1 ] && rm -rf "$CC_VAR"
	done
	fail stack_up "the stack did not start"
	dump_logs
	return 1
}

stack_try() {
	export CC_VAR; CC_VAR=$(mktemp -d /tmp/cc-test.XXXXXX)
	chmod 755 "$CC_VAR"
	local k
	for k in CC_SIP_PORT CC_SIP_TLS_PORT CC_API_PORT CC_PG_PORT CC_NATS_PORT CC_NATS_HTTP_PORT \
	         CC_NG_PORT CC_NG_TCP_PORT CC_EVAPI_PORT CC_ROUTING_METRICS_PORT \
	         CC_MEDIA_SIP_PORT CC_MEDIA_METRICS_PORT; do
		export "$k=$(pick_port)"
	done
	# media ports: 1000 from a random block unless CC_TEST_RTP_SPAN asks
	# for more (the benchmark needs ~4 per concurrent call)
	local span=${CC_TEST_RTP_SPAN:-1000}
	export CC_RTP_MIN=$((40000 + (RANDOM % (20000 / span)) * span)) CC_RTP_MAX
	CC_RTP_MAX=$((CC_RTP_MIN + span - 1))
	# mediad's own media ports: a free block of 200 away from rtpengine's
	export CC_MEDIA_RTP_MIN CC_MEDIA_RTP_MAX
	CC_MEDIA_RTP_MIN=$(pick_media_rtp)
	CC_MEDIA_RTP_MAX=$((CC_MEDIA_RTP_MIN + 199))
	export CC_SIP_DOMAIN=cc.test
	"$TOP/ops/stack.sh" start > "$CC_VAR/stack-start.log" 2>&1 || return 1
	OPERATOR=$(cat "$CC_VAR/operator.token")
	API=https://127.0.0.1:$CC_API_PORT
	NATS=nats://127.0.0.1:$CC_NATS_PORT
	# the test tools (natspub, natsping) connect as the stack's tools user
	export CC_NATS_CREDS=$CC_VAR/secrets/nats_tools
	SIPW=$CC_VAR/sipp
	mkdir -p "$SIPW"
}

dump_logs() {
	local f
	for f in "$CC_VAR"/log/*.log; do
		printf '\n--- %s (last 25 lines)\n' "$f"
		tail -n 25 "$f"
	done
}

stack_down() {
	rm -f "$PICKED"
	[ -n "${CC_VAR:-}" ] && [ -d "$CC_VAR" ] || return 0
	if [ -n "${CC_TEST_KEEP:-}" ]; then
		echo "# CC_TEST_KEEP: stack left running in $CC_VAR"
		return 0
	fi
	[ "$FAILED" = 1 ] && dump_logs
	# CC_TEST_SAVE=DIR: a failing run's logs and SIPp traces are kept there
	if [ "$FAILED" = 1 ] && [ -n "${CC_TEST_SAVE:-}" ] && mkdir -p "$CC_TEST_SAVE"; then
		cp -r "$CC_VAR/log" "$CC_VAR/sipp" "$CC_TEST_SAVE/" 2>/dev/null
		for t in calls call_events grants rated_lines; do
			sql "COPY cc.$t TO STDOUT WITH CSV HEADER" > "$CC_TEST_SAVE/$t.csv" 2>&1
		done
	fi
	[ -n "$SIPP_PIDS" ] && kill $SIPP_PIDS 2>/dev/null
	"$TOP/ops/stack.sh" stop > /dev/null 2>&1
	if grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$CC_VAR"/log/*.log 2>/dev/null; then
		fail sanitizers "reports in the logs above"
		grep -h -A30 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$CC_VAR"/log/*.log | head -80
	fi
	local pg; pg=$(readlink -f "$CC_VAR/pg" 2>/dev/null || true)
	case $pg in /var/tmp/cc-pg-*) rm -rf "$pg" ;; esac
	rm -rf "$CC_VAR"
}

# ---------------------------------------------------------------- the API
# api METHOD PATH TOKEN [JSON] -> $HTTP (status), body in $RESP
api() {
	local method=$1 path=$2 token=$3 body=${4:-}
	RESP=$CC_VAR/resp.json
	local args=(-sk -o "$RESP" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $token")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	HTTP=$(curl "${args[@]}" "$API$path")
}
jr() { jq -r "$1" "$RESP"; }

declare -A KEY DOMAIN TID
# new_tenant SLUG: creates it; KEY[slug], DOMAIN[slug], TID[slug]
new_tenant() {
	api POST /v1/tenants "$OPERATOR" "{\"slug\":\"$1\",\"name\":\"$1 Ltd\",\"timezone\":\"Asia/Shanghai\"}"
	[ "$HTTP" = 201 ] || { fail "new_tenant.$1" "HTTP $HTTP $(cat "$RESP")"; return 1; }
	KEY[$1]=$(jr .admin_api_key); DOMAIN[$1]=$(jr .sip_domain); TID[$1]=$(jr .id)
}
# new_agent SLUG EXT PASSWORD
new_agent() {
	api POST "/v1/tenants/$1/agents" "${KEY[$1]}" "{\"extension\":\"$2\",\"name\":\"Agent $2\",\"password\":\"$3\"}"
	[ "$HTTP" = 201 ] || { fail "new_agent.$1.$2" "HTTP $HTTP $(cat "$RESP")"; return 1; }
}
# new_number SLUG E164 EXT: the operator assigns the number to the tenant
# (numbers are the operator's inventory), then the tenant points it at EXT
new_number() {
	assign_number "$1" "$2" || return 1
	api POST "/v1/tenants/$1/numbers" "${KEY[$1]}" "{\"e164\":\"$2\",\"target\":{\"type\":\"agent\",\"extension\":\"$3\"}}"
	[ "$HTTP" = 201 ] || { fail "new_number.$1.$2" "HTTP $HTTP $(cat "$RESP")"; return 1; }
}
# assign_number SLUG E164: the operator puts the number in the tenant's inventory
assign_number() {
	api POST /v1/numbers "$OPERATOR" "{\"e164\":\"$2\",\"tenant\":\"$1\"}"
	[ "$HTTP" = 201 ] || { fail "assign_number.$1.$2" "HTTP $HTTP $(cat "$RESP")"; return 1; }
}
# pstn_enable SLUG CALLER_ID: PSTN calls without a billing plan (operator
# flag) presenting CALLER_ID, one of the tenant's numbers
pstn_enable() {
	api PATCH "/v1/tenants/$1" "$OPERATOR" "{\"pstn_without_plan\":true,\"caller_id\":\"$2\"}"
	[ "$HTTP" = 200 ] || { fail "pstn_enable.$1" "HTTP $HTTP $(cat "$RESP")"; return 1; }
}
# acme_with_agent: the usual fixture of the fault suites: trunk carrier1
# from $CARRIER, tenant acme, agent 1001 registered from $A1001 (a check),
# and +8657112345678 ringing it
acme_with_agent() {
	CARRIER=$(pick_port) A1001=$(pick_port)
	new_trunk carrier1 "$CARRIER"
	new_tenant acme
	new_agent acme 1001 acme-pass-1001
	new_number acme +8657112345678 1001
	check register_agent sip_register 1001 acme.cc.test acme-pass-1001 "$A1001"
}
# new_trunk NAME PORT [OUTBOUND_PORT]
new_trunk() {
	local out=""
	[ -n "${3:-}" ] && out=",\"outbound\":\"127.0.0.1:$3\""
	api POST /v1/trunks "$OPERATOR" "{\"name\":\"$1\",\"address\":\"127.0.0.1\",\"port\":$2$out}"
	[ "$HTTP" = 201 ] || { fail "new_trunk.$1" "HTTP $HTTP $(cat "$RESP")"; return 1; }
}

# ------------------------------------------------------------------- SIPp
# Every SIPp run leaves its message log in $SIPW/<tag>.log.
sipp_run() { # sipp_run TAG args...
	local tag=$1; shift
	(cd "$SIPW" && timeout -s KILL 60 sipp 127.0.0.1:"$CC_SIP_PORT" -i 127.0.0.1 -mp "$(pick_port 4)" -trace_msg -message_file "$tag.log" \
		-trace_err -error_file "$tag.err" -nostdin "$@" > "$tag.out" 2>&1)
	local rc=$?
	if [ "$rc" != 0 ]; then
		echo "# sipp $tag failed ($rc):"
		tail -c 400 "$SIPW/$tag.err" 2>/dev/null | tr -s "\r\n" "  " | sed "s/^/#   /"; echo
	fi
	return $rc
}
# sip_register USER DOMAIN PASSWORD PORT
sip_register() {
	sipp_run "reg-$1-$4" -sf "$SIPP_DIR/register.xml" -set user "$1" -set domain "$2" \
		-set expires 300 -au "$1" -ap "$3" -p "$4" -m 1 -timeout 5 -timeout_error
}
# sip_register_refused USER DOMAIN PASSWORD PORT: challenged, then 403
sip_register_refused() {
	sipp_run "regx-$1-$4" -sf "$SIPP_DIR/register_refused.xml" -set user "$1" -set domain "$2" \
		-au "$1" -ap "$3" -p "$4" -m 1 -timeout 8 -timeout_error
}
# sip_register_forbidden USER DOMAIN PORT: 403 at once
sip_register_forbidden() {
	sipp_run "regf-$1-$3" -sf "$SIPP_DIR/register_forbidden.xml" -set user "$1" -set domain "$2" \
		-p "$3" -m 1 -timeout 5 -timeout_error
}
# sip_agent PORT [CALLS] [SCENARIO]: an agent phone answering in the
# background (tests/sipp/agent_uas.xml unless SCENARIO); $! is its pid
sip_agent() {
	(cd "$SIPW" && exec timeout -s KILL 60 sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/${3:-agent_uas.xml}" -p "$1" -m "${2:-1}" \
		-trace_msg -message_file "agent-$1.log" -nostdin -timeout 30 > "agent-$1.out" 2>&1) &
	AGENT_PID=$!
	SIPP_PIDS="$SIPP_PIDS $AGENT_PID"
	# ready when its SIP port is bound (a fixed sleep lost races on a busy machine)
	local i
	for ((i = 0; i < 50; i++)); do
		ss -Huan "sport = :$1" 2>/dev/null | grep -q . && break
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	sleep 0.1
}
# sip_call FROM_PORT NUMBER CALLER [TALK_MS]: a carrier call that must be answered
sip_call() {
	sipp_run "call-$1-$2" -sf "$SIPP_DIR/carrier_call.xml" -s "$2" -set from "$3" -p "$1" \
		-default_behaviors all,-abortunexp \
		-m 1 -d "${4:-500}" -timeout 10 -timeout_error
}
# sip_call_refused CODE FROM_PORT NUMBER CALLER: a call that must get CODE
sip_call_refused() {
	local sf=$SIPW/refused-$1.xml
	sed "s/@CODE@/$1/g" "$SIPP_DIR/carrier_refused.xml.in" > "$sf"
	sipp_run "refused-$1-$2-$3" -sf "$sf" -s "$3" -set from "$4" -p "$2" -m 1 -timeout 8 -timeout_error
}
# sip_agent_call USER DOMAIN PASSWORD TARGET PORT: an agent dials TARGET, answered
sip_agent_call() {
	sipp_run "acall-$1-$4" -sf "$SIPP_DIR/agent_call.xml" -s "$4" -set user "$1" -set domain "$2" \
		-au "$1" -ap "$3" -p "$5" -m 1 -d 500 -timeout 10 -timeout_error
}
# sip_agent_call_refused CODE USER DOMAIN PASSWORD TARGET PORT
sip_agent_call_refused() {
	local sf=$SIPW/arefused-$1.xml
	sed "s/@CODE@/$1/g" "$SIPP_DIR/agent_call_refused.xml.in" > "$sf"
	sipp_run "arefused-$1-$2-$5" -sf "$sf" -s "$5" -set user "$2" -set domain "$3" \
		-au "$2" -ap "$4" -p "$6" -m 1 -timeout 8 -timeout_error
}
# got_invite PORT: the agent phone on PORT received an INVITE
got_invite() { grep -q '^INVITE ' "$SIPW/agent-$1.log" 2>/dev/null; }

# wait_for SECONDS CMD...: polls CMD every 0.2 s
wait_for() {
	local n=$(( $1 * 5 )); shift
	while ((n-- > 0)); do "$@" && return 0; sleep 0.2; done
	return 1
}

# calls_are SLUG N: the tenant sees exactly N call records (for wait_for)
calls_are() { [ "$(calls_count "$1")" = "$2" ]; }
# calls_count SLUG: number of call records visible to the tenant
calls_count() {
	api GET "/v1/tenants/$1/calls?limit=500" "${KEY[$1]}"
	jr '.items | length'
}

# ------------------------------------------------------ raw SIP (hostile)
SIPSEND=${CC_BUILD:-$TOP/build}/tests/sipsend
# render TEMPLATE OUT KEY=VALUE...: OUT is TEMPLATE with each @KEY@
# replaced by VALUE (any bytes but NUL: the hostile tests put invalid
# UTF-8 into SIPp scenarios this way)
render() {
	local tpl=$1 out=$2 kv k v content
	shift 2
	content=$(< "$tpl")
	for kv in "$@"; do
		k=${kv%%=*} v=${kv#*=}
		content=${content//@$k@/$v}
	done
	printf '%s\n' "$content" > "$out"
}
# sip_raw TAG LOCAL_PORT MESSAGE [udp|tcp] [LOCAL_IP]: sends MESSAGE (a
# string; LF become CRLF) to Kamailio, prints the replies' status lines
# (also kept in $SIPW/raw-TAG.out)
sip_raw() {
	local tag=$1 port=$2 msg=$3 proto=${4:-udp} ip=${5:-127.0.0.1} t=
	[ "$proto" = tcp ] && t=-T
	# $(...) took the blank line that ends the headers: put it back
	printf '%s\n\n' "$msg" > "$SIPW/raw-$tag.msg"
	"$SIPSEND" $t -b "$ip:$port" -s "127.0.0.1:$CC_SIP_PORT" -w 3000 "$SIPW/raw-$tag.msg" \
		| tee "$SIPW/raw-$tag.out"
}
# sip_raw_code TAG LOCAL_PORT MESSAGE [proto]: the final reply's code (or "none")
sip_raw_code() {
	local out
	out=$(sip_raw "$@" | grep -v '^SIP/2.0 1' | tail -1)
	[ -n "$out" ] && awk '{ print $2 }' <<< "$out" || echo none
}
# sip_listen PORT SECONDS [STATUS]: a raw UDP phone or carrier in the
# background, answering INVITEs with STATUS if given; what it received is
# in $SIPW/listen-PORT.log, its pid in $LISTEN_PID
sip_listen() {
	local port=$1 secs=$2 st=${3:-}
	if [ -n "$st" ]; then
		"$SIPSEND" -L -b "127.0.0.1:$port" -w $((secs * 1000)) -r "$st" > "$SIPW/listen-$port.log" 2>&1 &
	else
		"$SIPSEND" -L -b "127.0.0.1:$port" -w $((secs * 1000)) > "$SIPW/listen-$port.log" 2>&1 &
	fi
	LISTEN_PID=$!
	SIPP_PIDS="$SIPP_PIDS $LISTEN_PID"
	wait_for 5 ss_bound_udp "$port"
}
ss_bound_udp() { ss -Huan "sport = :$1" 2>/dev/null | grep -q .; }
# mediabeat ADDR [HEARTBEAT_MS]: mediad's NATS side alone (tests/tools/mediabeat,
# media/rpc.c) heartbeating as a new instance at SIP ADDR, as the stack's
# mediad user; its pid in $MEDIABEAT_PID, its output in $SIPW/mediabeat.out
MEDIABEAT=${CC_BUILD:-$TOP/build}/tests/mediabeat
mediabeat() {
	mkdir -p "$CC_VAR/spool-mediabeat"
	CC_NATS_CREDS=$CC_VAR/secrets/nats_mediad CC_SPOOL_DIR=$CC_VAR/spool-mediabeat \
		"$MEDIABEAT" "$NATS" "$1" "${2:-300}" >> "$SIPW/mediabeat.out" 2>&1 &
	MEDIABEAT_PID=$!
	SIPP_PIDS="$SIPP_PIDS $MEDIABEAT_PID"
}
# routing_metric NAME: a value of routingd's metrics
routing_metric() {
	curl -s --max-time 2 "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
# media_alive N: routingd counts N mediad instances alive (for wait_for)
media_alive() { [ "$(routing_metric cc_routing_media_instances_alive)" = "$1" ]; }

# kam_stat NAME: a Kamailio statistic's value (statistics module variables)
kam_stat() {
	CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" stats.get_statistics "[\"$1\"]" 2>/dev/null \
		| grep -o "$1 = [0-9]*" | awk '{ print $3 }'
}

# bulk_tenants PREFIX TENANTS PER E164_PREFIX: TENANTS tenants PREFIX000001..
# (straight into the database, no notice), each with agent 1000 and PER
# numbers E164_PREFIX<8 digits> targeting it: the scale suites' bulk
bulk_tenants() {
	sql "INSERT INTO cc.tenants (id, slug, name, timezone, sip_domain)
	       SELECT gen_random_uuid(), '$1' || lpad(i::text, 6, '0'), 'Bulk ' || i, 'UTC',
	              '$1' || lpad(i::text, 6, '0') || '.cc.test'
	       FROM generate_series(1, $2) i;
	     INSERT INTO cc.agents (id, tenant_id, extension, name)
	       SELECT gen_random_uuid(), t.id, '1000', 'Agent' FROM cc.tenants t WHERE t.slug ~ '^$1[0-9]{6}\$';
	     INSERT INTO cc.numbers (id, tenant_id, e164, target_type, target_extension)
	       SELECT gen_random_uuid(), t.id, '$4' || lpad((row_number() OVER (ORDER BY t.id, j))::text, 8, '0'),
	              'agent', '1000'
	       FROM cc.tenants t, generate_series(1, $3) j WHERE t.slug ~ '^$1[0-9]{6}\$';
	     ANALYZE;" > /dev/null
}

# --- real clients and audio (h-tests)
# baresip 1.0.0 (baresip-core) as a real phone or carrier peer that plays a
# WAV into the call and records what it hears, SIPp as a carrier sending
# RFC 4733 digits or in-band audio, and sox to judge the recordings. Each
# baresip runs from its own config dir ($SIPW/bs/NAME) on ports from
# pick_port; bs_stop_all ends them (put it in the file's EXIT trap), and
# timeout(1) kills any left after CC_BS_MAX_S (1200) s. They are children
# of the test's shell: wait for a pid, never a bare `wait` (it would wait
# for the phones).
#
# What baresip 1.0.0 can and cannot do (read from its modules, not
# guessed): module aufile is a source only (an 8 kHz mono s16 WAV, played
# once: "aufile: end of file"); recording is module sndfile, an audio
# filter that writes what is sent (-enc.wav) and what is heard after
# decoding (-dec.wav) into snd_path, one pair per call; the player is
# aufile,/dev/null (none is needed, the filter sees the decoded audio);
# DTMF is menu's command "sndcode" (RFC 4733 telephone-event, which
# baresip always offers), received events are logged "received event:
# 'D' (end=1)";
# ctrl_tcp drives it (tests/tools/baresip_phone.sh cmd).
BS_DIRS=""
# tone_wav FILE FREQ SECONDS: a sine, 8 kHz mono s16, -6 dBFS
tone_wav() { sox -n -r 8000 -c 1 -b 16 -e signed-integer "$1" synth "$3" sine "$2" gain -6; }
# dtmf_wav FILE DIGITS [ON_MS] [OFF_MS]: in-band DTMF tones (the two
# frequencies of each key summed, peak -4 dBFS), ON_MS (100) each with
# OFF_MS (100) between, after 1 s of silence and before 2 s more, as an
# 8 kHz mono s16 WAV (baresip's aufile source; ulaw_raw for SIPp)
dtmf_wav() {
	local f=$1 digits=$2 on=${3:-100} off=${4:-100} parts=() i d lo hi
	sox -n -r 8000 -c 1 -b 16 -e signed-integer "$f.p.wav" trim 0 1
	parts+=("$f.p.wav")
	for ((i = 0; i < ${#digits}; i++)); do
		d=${digits:i:1}
		case $d in 1|2|3|A) lo=697 ;; 4|5|6|B) lo=770 ;; 7|8|9|C) lo=852 ;; *) lo=941 ;; esac
		case $d in 1|4|7|'*') hi=1209 ;; 2|5|8|0) hi=1336 ;; 3|6|9|'#') hi=1477 ;; *) hi=1633 ;; esac
		sox -n -r 8000 -c 1 -b 16 -e signed-integer "$f.$i.wav" synth "$(ms_s "$on")" sine "$lo" \
			synth "$(ms_s "$on")" sine mix "$hi" gain -n -4 pad 0 "$(ms_s "$off")"
		parts+=("$f.$i.wav")
	done
	sox "${parts[@]}" "$f" pad 0 2
	rm -f "${parts[@]}"
}
ms_s() { awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }'; }
# ulaw_raw WAV RAW: the same audio as headerless G.711 u-law (SIPp's rtp_stream)
ulaw_raw() { sox "$1" -r 8000 -c 1 -e u-law -t raw "$2"; }
# audio_rms FILE: sox stat's RMS amplitude (0..1); audio_freq FILE: its
# "Rough frequency" in Hz (zero crossings: one tone at a time)
audio_rms() { sox "$1" -n stat 2>&1 | awk '/^RMS +amplitude/ { print $3 }'; }
audio_freq() { sox "$1" -n stat 2>&1 | awk '/^Rough +frequency/ { print $3 }'; }
# audio_not_silent FILE [MIN_RMS]: the recording has sound (RMS above
# MIN_RMS, 0.01 = -40 dBFS; silence and comfort noise are below)
audio_not_silent() {
	local r; r=$(audio_rms "$1" 2> /dev/null)
	[ -n "$r" ] && awk -v r="$r" -v m="${2:-0.01}" 'BEGIN { exit !(r > m) }'
}
# audio_freq_near FILE HZ [PERCENT]: its rough frequency is HZ +- PERCENT (5)
audio_freq_near() {
	local f; f=$(audio_freq "$1" 2> /dev/null)
	[ -n "$f" ] && awk -v f="$f" -v w="$2" -v p="${3:-5}" 'BEGIN { d = f - w; if (d < 0) d = -d; exit !(d * 100 <= w * p) }'
}
# audio_trim IN OUT START [LEN]: a slice of a recording (seconds), to judge
# one part of a call
audio_trim() { sox "$1" "$2" trim "$3" ${4:+"$4"}; }

# bs_start NAME WAV USER DOMAIN PASSWORD [ANSWERMODE]: a baresip agent
# phone registered with the platform over UDP, playing WAV into every call
# (once), answering by itself (ANSWERMODE auto, or manual: it rings until
# bs_cmd NAME accept); SIP port in BS_SIP[NAME]
# bs_peer NAME WAV USER: a baresip carrier peer (no registration) calling
# from BS_SIP[NAME] as USER (the caller's number): make it a trunk with
# new_trunk first (its port: BS_SIP[NAME]=$(pick_port) before bs_peer)
declare -A BS_SIP
bs_start() { bs_launch "$1" "$2" "<sip:$3@$4;transport=udp>;auth_pass=$5;answermode=${6:-auto};regint=300;outbound=\"sip:127.0.0.1:$CC_SIP_PORT;transport=udp\";audio_codecs=pcma,pcmu;mwi=no;pubint=0"; }
bs_peer() { bs_launch "$1" "$2" "<sip:$3@127.0.0.1:${BS_SIP[$1]:-0}>;regint=0;answermode=auto;audio_codecs=pcma,pcmu;mwi=no;pubint=0"; }
bs_launch() {
	local name=$1 wav=$2 account=$3 dir=$SIPW/bs/$1
	[ -n "${BS_SIP[$name]:-}" ] || BS_SIP[$name]=$(pick_port 2)
	local ctrl rtp; ctrl=$(pick_port) rtp=$(pick_port 4)
	mkdir -p "$dir/rec"
	echo "$ctrl" > "$dir/ctrl_port"
	cat > "$dir/config" <<-CFG
	poll_method		epoll
	sip_listen		127.0.0.1:${BS_SIP[$name]}
	call_local_timeout	120
	call_max_calls		4
	audio_source		aufile,$wav
	audio_player		aufile,/dev/null
	audio_alert		aufile,/dev/null
	ausrc_srate		8000
	ausrc_channels		1
	auplay_srate		8000
	auplay_channels		1
	rtp_ports		$rtp-$((rtp + 3))
	rtcp_mux		no
	rtp_timeout		0
	snd_path		$dir/rec
	module_path		/usr/lib/baresip/modules
	module			g711.so
	module			aufile.so
	module			sndfile.so
	module_app		account.so
	module_app		menu.so
	module_app		ctrl_tcp.so
	ctrl_tcp_listen		127.0.0.1:$ctrl
	CFG
	printf '%s\n' "$account" > "$dir/accounts"
	: > "$dir/contacts"
	(cd "$dir" && exec timeout -s KILL "${CC_BS_MAX_S:-1200}" baresip -f "$dir" -s < /dev/null > "$dir/out" 2>&1) &
	echo $! > "$dir/pid"
	BS_DIRS="$BS_DIRS $dir"
	wait_for 10 ss_bound_tcp "$ctrl"
}
ss_bound_tcp() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
# bs_cmd NAME COMMAND [PARAMS]: one ctrl_tcp command (dial URI, hangup,
# accept, sndcode DIGITS, ausrc aufile,WAV, listcalls, reginfo, quit)
bs_cmd() { "$TOP/tests/tools/baresip_phone.sh" cmd "$SIPW/bs/$1" "$2" "${3:-}" > "$SIPW/bs/$1/last-cmd" 2>&1; }
# bs_in_call NAME: it says the call is up; bs_ringing: a call rings it;
# bs_ended NAME: it says a call ended
bs_in_call() { grep -aq 'Call established' "$SIPW/bs/$1/out" 2>/dev/null; }
bs_ringing() { grep -aq 'Incoming call from' "$SIPW/bs/$1/out" 2>/dev/null; }
bs_ended() { grep -aq -E 'Call with .* terminated|session closed' "$SIPW/bs/$1/out" 2>/dev/null; }
# bs_digits NAME: the RFC 4733 digits it received, in order
bs_digits() { grep -ao "received event: '.' (end=1)" "$SIPW/bs/$1/out" 2>/dev/null | cut -d"'" -f2 | tr -d '\n'; }
# bs_heard NAME / bs_sent NAME: its newest recording of what it heard / sent
bs_heard() { ls -t "$SIPW/bs/$1"/rec/*-dec.wav 2>/dev/null | head -1; }
bs_sent() { ls -t "$SIPW/bs/$1"/rec/*-enc.wav 2>/dev/null | head -1; }
# bs_stop NAME; bs_stop_all: quit them (killed if they do not)
bs_stop() { bs_stop_dir "$SIPW/bs/$1"; }
bs_stop_dir() {
	local pid i; pid=$(cat "$1/pid" 2>/dev/null) || return 0
	"$TOP/tests/tools/baresip_phone.sh" cmd "$1" quit > /dev/null 2>&1
	for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill "$pid" 2>/dev/null
}
bs_stop_all() { local d; for d in $BS_DIRS; do bs_stop_dir "$d"; done; BS_DIRS=""; }

# sipp_dtmf_scenario OUT DIGITS [ON_MS] [OFF_MS]: a carrier UAC scenario
# (tests/sipp/carrier_dtmf.xml.in) that after the 200 OK waits 1 s, plays
# DIGITS as RFC 4733 events (one pcap written by tests/tools/rtppcap: each
# key ON_MS (100), then OFF_MS (100) of nothing), waits for them to go
# out, then holds for -d ms and hangs up. SIPp's own dtmf_2833_<d>.pcap
# cannot be chained: each keeps the sequence numbers and timestamps of the
# recording it was cut from, so a '*' after a '#' goes backwards and a
# repeated key is an exact duplicate, and receivers drop both (baresip
# did, see rtppcap.c). The pcap is OUT.pcap.
RTPPCAP=${CC_BUILD:-$TOP/build}/tests/rtppcap
sipp_dtmf_scenario() {
	local out=$1 digits=$2 on=${3:-100} off=${4:-100}
	"$RTPPCAP" dtmf "$out.pcap" "$digits" "$on" "$off" || return 1
	render "$SIPP_DIR/carrier_dtmf.xml.in" "$out" "PCAP=$out.pcap" "MS=$(( ${#digits} * (on + off) + 700 ))"
}
# sip_call_dtmf TAG FROM_PORT NUMBER CALLER DIGITS [HOLD_MS] [ON_MS] [OFF_MS]:
# a carrier call that sends DIGITS once answered; SIPp's log in $SIPW/TAG.log
sip_call_dtmf() {
	sipp_dtmf_scenario "$SIPW/$1.xml" "$5" "${7:-100}" "${8:-100}" || return 1
	sipp_run "$1" -sf "$SIPW/$1.xml" -s "$3" -set from "$4" -p "$2" \
		-default_behaviors all,-abortunexp -m 1 -d "${6:-1000}" -timeout 60 -timeout_error
}
# sip_call_audio TAG FROM_PORT NUMBER CALLER RAW [HOLD_MS]: a carrier call
# offering PCMU only (no telephone-event) that streams RAW (u-law, see
# ulaw_raw) into the call once answered: in-band DTMF
sip_call_audio() {
	render "$SIPP_DIR/carrier_inband.xml.in" "$SIPW/$1.xml" "AUDIO=$5"
	sipp_run "$1" -sf "$SIPW/$1.xml" -s "$3" -set from "$4" -p "$2" \
		-default_behaviors all,-abortunexp -m 1 -d "${6:-1000}" -timeout 60 -timeout_error
}

# ------------------------------------------ shared by the call-center suites
# Kamailio knows an AOR (user@domain) registered / a trunk's port loaded
registered() { CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" ul.lookup "[\"location\",\"$1\"]" | grep -q '"Address"'; }
trunk_known() { CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" permissions.addressDump | grep -q "\"port\":[[:space:]]*$1,"; }
media_up() { media_alive 1; }
# a baresip phone's calls answered / rung so far, and "more than N answered"
answered_n() { local n; n=$(grep -ac 'Call established' "$SIPW/bs/$1/out" 2>/dev/null); echo "${n:-0}"; }
rang_n() { local n; n=$(grep -ac 'Incoming call from' "$SIPW/bs/$1/out" 2>/dev/null); echo "${n:-0}"; }
n_is_past() { [ "$(answered_n "$1")" -gt "$2" ]; }
# freqs FILE: the rough frequency of each 0.5 s of FILE, loud ones only ("-" others)
freqs() {
	local f=$1 len i out=""
	len=$(soxi -D "$f" 2>/dev/null) || return 1
	for ((i = 0; i * 5 < ${len%.*} * 10 + 5; i++)); do
		sox "$f" "$f.slice.wav" trim "$(ms_s $((i * 500)))" 0.5 2>/dev/null || break
		if audio_not_silent "$f.slice.wav" 0.05; then out+="$(audio_freq "$f.slice.wav") "; else out+="- "; fi
	done
	rm -f "$f.slice.wav"
	echo "$out"
}
# near F W: F within 5 % of W; has_freq FILE HZ: some loud 0.5 s of FILE is HZ
near() { awk -v f="$1" -v w="$2" 'BEGIN { d = f - w; if (d < 0) d = -d; exit !(d * 100 <= w * 5) }'; }
has_freq() { local x; for x in $(freqs "$1"); do [ "$x" != - ] && near "$x" "$2" && return 0; done; return 1; }
