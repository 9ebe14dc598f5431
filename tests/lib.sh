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
# sip_agent PORT [CALLS]: an agent phone answering in the background; $! is its pid
sip_agent() {
	(cd "$SIPW" && exec timeout -s KILL 60 sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/agent_uas.xml" -p "$1" -m "${2:-1}" \
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
