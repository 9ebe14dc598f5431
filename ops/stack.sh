#!/usr/bin/env bash
# The platform's stack on loopback: PostgreSQL, NATS JetStream, rtpengine,
# Kamailio, tenantd, routingd, billingd, and mediad once it is built
# (build/media/mediad; without it the stack starts without it, quietly).
#
#   ops/stack.sh start [part...]   start (all by default), wait until healthy
#   ops/stack.sh stop  [part...]   stop (all by default), in reverse order
#   ops/stack.sh status            what runs, with pids
#   ops/stack.sh env               the settings in force, as shell exports
#                                  (eval "$(ops/stack.sh env)"; build/billing/billing ...)
#
# Every setting comes from the environment (defaults below) and is saved to
# $CC_VAR/stack.env at first start, so later commands and tools agree: a
# saved value wins over the environment afterwards (the start says so).
# Tests set CC_VAR to a temporary folder and free ports, so a test stack and
# the dev stack never clash.
#
# A start first checks the ports of every part it is to start (a port held
# by another program is named with its pid, and nothing starts), then checks
# that each part answers as itself (PostgreSQL a query on its own data
# folder, NATS its INFO, rtpengine an ng ping, Kamailio an OPTIONS with its
# Server header and its RPC, tenantd its own 401 with the stack's
# certificate, routingd its evapi connection and metrics, billingd its
# credit subscription and durable consumer). A failed start stops what it
# started and exits 1.
#
# Credentials: every daemon has its own PostgreSQL role and NATS user, with
# passwords generated into $CC_VAR/secrets at first start (ops/db/roles.sql,
# nats_conf below). NATS refuses anonymous connections; Kamailio's JSON-RPC
# is a unix socket and a FIFO of mode 0600 in $CC_VAR/run/kamailio.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
export CC_VAR=${CC_VAR:-$TOP/var}
mkdir -p "$CC_VAR"
CC_VAR=$(cd "$CC_VAR" && pwd)
SETTINGS="CC_SIP_PORT CC_SIP_TLS_PORT CC_API_PORT CC_PG_PORT CC_NATS_PORT CC_NATS_HTTP_PORT
CC_NG_PORT CC_NG_TCP_PORT CC_EVAPI_PORT CC_ROUTING_METRICS_PORT CC_RTP_MIN CC_RTP_MAX CC_SIP_DOMAIN
CC_KAM_CHILDREN CC_KAM_ASYNC_WORKERS CC_KAM_DEBUG CC_PIKE_DENSITY CC_TRUNK_DENSITY CC_MAX_CONTACTS
CC_SIP_TCP_PER_ADDR CC_MAX_CALL_S CC_ROUTING_RT_PRIO CC_BARE
CC_MEDIA_SIP_PORT CC_MEDIA_RTP_MIN CC_MEDIA_RTP_MAX CC_MEDIA_METRICS_PORT CC_MEDIA_HEARTBEAT_MS
CC_ROUTING_MEDIA_DEAD_MS CC_MEDIA_RT_PRIO CC_WS_ORIGIN"
# what the environment asks for, to compare with the saved settings
declare -A ASKED
for k in $SETTINGS; do [ -n "${!k+set}" ] && ASKED[$k]=${!k}; done
[ -f "$CC_VAR/stack.env" ] && . "$CC_VAR/stack.env"

# ---------------------------------------------------------------- settings
: "${CC_SIP_PORT:=5060}"          # SIP UDP and TCP
: "${CC_SIP_TLS_PORT:=5061}"      # SIP TLS
: "${CC_API_PORT:=8443}"          # tenantd HTTPS
: "${CC_PG_PORT:=55432}"          # PostgreSQL
: "${CC_NATS_PORT:=4222}"         # NATS client port
: "${CC_NATS_HTTP_PORT:=8222}"    # NATS monitoring
: "${CC_NG_PORT:=2223}"           # rtpengine ng (UDP)
: "${CC_NG_TCP_PORT:=2226}"       # rtpengine ng (TCP, DTMF notifications)
: "${CC_EVAPI_PORT:=8448}"        # Kamailio evapi (routingd connects)
: "${CC_ROUTING_METRICS_PORT:=9464}" # routingd metrics (Prometheus text)
: "${CC_RTP_MIN:=30000}"          # rtpengine media ports
: "${CC_RTP_MAX:=39999}"
: "${CC_SIP_DOMAIN:=cc.test}"     # tenants get <slug>.$CC_SIP_DOMAIN
: "${CC_KAM_CHILDREN:=4}"         # Kamailio UDP workers
: "${CC_KAM_ASYNC_WORKERS:=4}"    # Kamailio workers resuming routed calls
: "${CC_KAM_DEBUG:=1}"            # Kamailio log level (1 = warnings)
: "${CC_PIKE_DENSITY:=200}"       # requests per 2 s per non-trunk address; more are dropped
: "${CC_TRUNK_DENSITY:=20000}"    # requests per 2 s per trunk address; more are dropped
: "${CC_MAX_CONTACTS:=5}"         # phones registered at once per agent
: "${CC_SIP_TCP_PER_ADDR:=100}"   # SIP TCP/TLS connections per source address (0: no limit)
: "${CC_MAX_CALL_S:=14400}"       # longest call, seconds
: "${CC_ROUTING_RT_PRIO:=10}"     # routingd decides at this SCHED_FIFO priority (0: off)
: "${CC_MEDIA_RT_PRIO:=10}"       # mediad mixes at this SCHED_FIFO priority (0: off)
: "${CC_WS_ORIGIN:=https://127.0.0.1:$CC_API_PORT}" # the only origin whose pages may open SIP over WebSocket
: "${CC_BARE:=}"                  # benchmark only: relay trunk calls to this host:port
: "${CC_MEDIA_SIP_PORT:=5090}"    # mediad SIP (UDP, 127.0.0.1; Kamailio's address group 3)
: "${CC_MEDIA_RTP_MIN:=40000}"    # mediad RTP/RTCP ports
: "${CC_MEDIA_RTP_MAX:=40999}"
: "${CC_MEDIA_METRICS_PORT:=9466}" # mediad metrics (Prometheus text)
: "${CC_MEDIA_HEARTBEAT_MS:=1000}" # mediad tells routingd it is alive this often
: "${CC_ROUTING_MEDIA_DEAD_MS:=3000}" # routingd: a mediad silent this long is lost, its calls ended

RUN=$CC_VAR/run
LOG=$CC_VAR/log
SECRETS=$CC_VAR/secrets
BUILD=${CC_BUILD:-$TOP/build${SAN:+-asan}}
PGBIN=/usr/lib/postgresql/15/bin
mkdir -p "$RUN" "$LOG" "$SECRETS"
chmod 700 "$SECRETS"

save_env() {
	local f=$CC_VAR/stack.env k
	if [ -f "$f" ]; then
		for k in "${!ASKED[@]}"; do
			[ "${ASKED[$k]}" = "${!k}" ] && continue
			say "$k=${ASKED[$k]} from the environment is ignored: $f saved $k=${!k} at" \
			    "the first start and wins (edit that file while the stack is stopped," \
			    "or remove $CC_VAR to start afresh)"
		done
		return 0
	fi
	: > "$f"
	for k in $SETTINGS; do printf '%s=%q\n' "$k" "${!k}" >> "$f"; done
}

secret() { # secret NAME: prints it, creating it at first use
	local f=$SECRETS/$1
	[ -s "$f" ] || (umask 077; openssl rand -hex 20 > "$f")
	cat "$f"
}

# nats_creds USER: the file holding "USER:password" (CC_NATS_CREDS), made
# at first use
nats_creds() {
	local f=$SECRETS/nats_$1
	[ -s "$f" ] || (umask 077; printf '%s:%s\n' "$1" "$(openssl rand -hex 20)" > "$f")
	echo "$f"
}
nats_password() { local l; l=$(cat "$(nats_creds "$1")"); echo "${l#*:}"; }

say() { printf 'stack: %s\n' "$*"; }
# die MESSAGE: a start that fails stops the parts it started, then exits 1
STARTED=""
die() {
	printf 'stack: %s\n' "$*" >&2
	if [ -n "$STARTED" ]; then
		printf 'stack: stopping what this start started:%s\n' "$STARTED" >&2
		local parts=$STARTED
		STARTED=""
		stop $parts
	fi
	exit 1
}

# alive: running and not a zombie (a killed daemon whose parent is gone
# may wait to be reaped by an init that never does)
running() { kill -0 "$1" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
pid_alive() { [ -f "$RUN/$1.pid" ] && running "$(cat "$RUN/$1.pid")"; }

# ---------------------------------------------------------------- health
# Each part's ports: SETTING:PROTO (t = TCP listener, u = UDP socket)
declare -A PORTS=(
	[pg]="CC_PG_PORT:t"
	[nats]="CC_NATS_PORT:t CC_NATS_HTTP_PORT:t"
	[rtpengine]="CC_NG_PORT:u CC_NG_TCP_PORT:t"
	[kamailio]="CC_SIP_PORT:u CC_SIP_PORT:t CC_SIP_TLS_PORT:t CC_EVAPI_PORT:t"
	[tenantd]="CC_API_PORT:t"
	[routingd]="CC_ROUTING_METRICS_PORT:t"
	[billingd]=""
	[mediad]="CC_MEDIA_SIP_PORT:u CC_MEDIA_METRICS_PORT:t"
)

# port_user PROTO PORT: "pid N (name)" of whoever holds it, "another
# program" when ss cannot tell; fails when the port is free
port_user() {
	local line who
	line=$(ss -Hn"$1"lp "sport = :$2" 2>/dev/null | head -n 1)
	[ -n "$line" ] || return 1
	who=$(grep -o '(("[^"]*",pid=[0-9]*' <<< "$line" | head -n 1)
	if [ -n "$who" ]; then
		printf 'pid %s (%s)' "${who##*pid=}" "$(sed 's/^(("//; s/",pid=.*//' <<< "$who")"
	else
		printf 'another program'
	fi
}

# ports_free PART: dies naming the first port of PART someone else holds
ports_free() {
	local spec k proto who
	for spec in ${PORTS[$1]}; do
		k=${spec%:*} proto=${spec#*:}
		[ "$k" = CC_ROUTING_METRICS_PORT ] && [ "${!k}" = 0 ] && continue
		[ "$k" = CC_MEDIA_METRICS_PORT ] && [ "${!k}" = 0 ] && continue
		if who=$(port_user "$proto" "${!k}"); then
			die "port ${!k} ($k) is taken by $who: $1 cannot start" \
			    "(stop that program, or choose another $k)"
		fi
	done
}

# healthy NAME SECONDS CHECK...: polls CHECK every 0.1 s until it succeeds;
# dies when NAME's process is gone or time is up
healthy() {
	local name=$1 secs=$2 until=$((SECONDS + $2)); shift 2
	while ((SECONDS < until)); do
		"$@" 2> /dev/null && return 0
		[ "$name" = pg ] || pid_alive "$name" || die "$name exited (log: $LOG/$name.log)"
		sleep 0.1
	done
	die "$name does not answer as itself after $secs s: $* failed (log: $LOG/$name.log)"
}

# PostgreSQL: a query, answered from our own data folder
pg_answers() {
	[ "$(PGPASSWORD=$(secret pg_admin) psql -h 127.0.0.1 -p "$CC_PG_PORT" -U cc_admin -d postgres \
		-tAXc "SHOW data_directory")" = "$(readlink -f "$CC_VAR/pg")" ]
}
# NATS: its INFO line names this stack's server
nats_answers() {
	local line
	exec 3<> /dev/tcp/127.0.0.1/"$CC_NATS_PORT" || return 1
	IFS= read -r -t 2 line <&3 || { exec 3>&-; return 1; }
	exec 3>&-
	[ "$(jq -r .server_name <<< "${line#INFO }")" = "cc-$CC_NATS_PORT" ]
}
# rtpengine: an ng ping, answered pong
ng_answers() {
	local reply
	exec 3<> /dev/udp/127.0.0.1/"$CC_NG_PORT" || return 1
	printf 'cc1 d7:command4:pinge' >&3
	reply=$(timeout 1 dd bs=4096 count=1 status=none <&3) || true
	exec 3>&-
	[ "$reply" = "cc1 d6:result4:ponge" ]
}
# Kamailio: an OPTIONS answered with the Server header of our config, and
# its JSON-RPC answering
sip_answers() {
	local reply header msg
	header=$(sed -n 's/^server_header="\(.*\)"$/\1/p' "$RUN/kamailio/kamailio.cfg")
	printf -v msg '%s\r\n' "OPTIONS sip:127.0.0.1:$CC_SIP_PORT SIP/2.0" \
		"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-stack-$RANDOM;rport" \
		"From: <sip:health@127.0.0.1>;tag=stack" "To: <sip:127.0.0.1:$CC_SIP_PORT>" \
		"Call-ID: stack-health-$$-$RANDOM" "CSeq: 1 OPTIONS" "Max-Forwards: 2" \
		"Content-Length: 0" ""
	exec 3<> /dev/udp/127.0.0.1/"$CC_SIP_PORT" || return 1
	printf '%s' "$msg" >&3   # one write: one datagram
	reply=$(timeout 1 dd bs=65536 count=1 status=none <&3) || true
	exec 3>&-
	[[ $reply == SIP/2.0* ]] && grep -qiF "${header:-Server:}" <<< "$reply"
}
rpc_answers() { CC_VAR=$CC_VAR "$TOP/ops/kamrpc.sh" core.version | grep -q '"result"'; }
# tenantd: its own JSON 401, over TLS with our certificate
api_answers() {
	curl -s --cacert "$SECRETS/tls.crt" --max-time 2 "https://127.0.0.1:$CC_API_PORT/v1/tenants" \
		| jq -e '.error.code == "unauthenticated"' > /dev/null
}
metrics_answer() {
	[ "$CC_ROUTING_METRICS_PORT" = 0 ] && return 0
	curl -s --max-time 2 "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | grep -q '^cc_routing_'
}
# billingd: its credit connection is on NATS, subscribed to the requests,
# so is its money connection (close, rerate, post: billing/rpc.h), and its
# durable consumer is on the event stream (which it creates: tenantd may
# only look the stream up, so billingd starts first)
billingd_answers() {
	curl -s --max-time 2 "http://127.0.0.1:$CC_NATS_HTTP_PORT/connz?subs=1&auth=1" | jq -e \
		'[.connections[] | select(.authorized_user == "billingd") | .name as $n
		  | .subscriptions_list[]? | select(($n == "billingd-credit" and . == "cc.rpc.credit.*")
		    or ($n == "billingd-rpc" and . == "cc.rpc.billing.post"))] | length > 1' > /dev/null &&
	curl -s --max-time 2 "http://127.0.0.1:$CC_NATS_HTTP_PORT/jsz?consumers=true" | jq -e \
		'[.account_details[]?.stream_detail[]? | select(.name == "CC_EVENTS")
		  | .consumer_detail[]? | select(.name == "billingd")] | length > 0' > /dev/null
}

# Starts a command in the background with its own log and pid file.
spawn() { # spawn NAME cmd...
	local name=$1; shift
	pid_alive "$name" && return 0
	setsid "$@" >> "$LOG/$name.log" 2>&1 < /dev/null &
	echo $! > "$RUN/$name.pid"
	disown $!  # no job report from this shell when stop kills it
}

# stamp: prefixes each line with the UTC time (for programs, Kamailio,
# that log to stderr without one)
stamp() {
	local line t
	export TZ=UTC
	while IFS= read -r line; do
		t=$EPOCHREALTIME
		printf '%(%Y-%m-%dT%H:%M:%S)T.%sZ %s\n' "${t%.*}" "${t#*.}" "$line"
	done
}
# spawn_stamped NAME cmd...: spawn, with each log line timestamped
spawn_stamped() {
	local name=$1; shift
	pid_alive "$name" && return 0
	# in a subshell whose output is already the log: the stamping process
	# then holds no copy of this script's stdout (a caller reading it
	# through a pipe would wait for Kamailio to exit)
	(
		exec >> "$LOG/$name.log" 2>&1 < /dev/null
		setsid "$@" > >(stamp) 2>&1 &
		echo $! > "$RUN/$name.pid"
	)
}

# spawn_supervised NAME cmd...: spawn under a supervisor that starts it
# again when it dies (kill -9, a crash), a second later, with a log line.
# $RUN/NAME.pid is the daemon's pid (rewritten at each start),
# $RUN/NAME.sup.pid the supervisor's; stop_pid stops the supervisor first.
# For production, ops/systemd/ has units with Restart=always.
spawn_supervised() {
	local name=$1 i; shift
	pid_alive "$name" && return 0
	# its supervisor is there and about to start it again (a start right
	# after a kill): wait for that, never start a second one
	if [ -f "$RUN/$name.sup.pid" ] && running "$(cat "$RUN/$name.sup.pid")"; then
		for ((i = 0; i < 60; i++)); do
			pid_alive "$name" && return 0
			sleep 0.05
		done
		return 0
	fi
	setsid bash -c '
		name=$1 run=$2; shift 2
		trap "kill -TERM \$child 2>/dev/null; wait \$child; exit 0" TERM INT
		while :; do
			"$@" &
			child=$!
			echo "$child" > "$run/$name.pid"
			wait "$child"
			rc=$?
			printf "supervisor: %s exited (%s), starting it again in 1 s\n" "$name" "$rc"
			sleep 1
		done' supervise "$name" "$RUN" "$@" >> "$LOG/$name.log" 2>&1 < /dev/null &
	echo $! > "$RUN/$name.sup.pid"
	disown $!
	for ((i = 0; i < 50; i++)); do
		[ -s "$RUN/$name.pid" ] && running "$(cat "$RUN/$name.pid")" && return 0
		sleep 0.05
	done
}

stop_pid() { # stop_pid NAME
	local f=$RUN/$1.pid p i
	if [ -f "$RUN/$1.sup.pid" ]; then
		p=$(cat "$RUN/$1.sup.pid")
		# the supervisor passes TERM on to the daemon and waits for it
		if running "$p"; then
			kill -TERM "$p" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do running "$p" || break; sleep 0.1; done
			kill -KILL -- -"$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
		fi
		rm -f "$RUN/$1.sup.pid"
	fi
	[ -f "$f" ] || return 0
	p=$(cat "$f")
	if running "$p"; then
		kill -TERM -- -"$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do running "$p" || break; sleep 0.1; done
		kill -KILL -- -"$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
	fi
	rm -f "$f"
}

# ---------------------------------------------------------------- postgres
# PostgreSQL refuses root: run it as `postgres` (or as the invoking user
# when not root). If that user cannot reach $CC_VAR (a checkout in root's
# home), the data lives under /var/tmp and $CC_VAR/pg points there.
pg_user() { [ "$(id -u)" = 0 ] && echo postgres || id -un; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_dir() {
	if [ -L "$CC_VAR/pg" ] || [ -d "$CC_VAR/pg" ]; then readlink -f "$CC_VAR/pg"; return; fi
	if as_pg test -x "$CC_VAR" 2>/dev/null; then
		mkdir -p "$CC_VAR/pg"
	else
		local alt
		alt=/var/tmp/cc-pg-$(printf '%s' "$CC_VAR" | sha1sum | cut -c1-12)
		mkdir -p "$alt"
		ln -sfn "$alt" "$CC_VAR/pg"
	fi
	chown "$(pg_user)" "$(readlink -f "$CC_VAR/pg")"
	chmod 700 "$(readlink -f "$CC_VAR/pg")"
	readlink -f "$CC_VAR/pg"
}

# the daemons' roles, and cc_app for the operator's tools (ops/db/roles.sql)
PG_ROLES="cc_app cc_routingd cc_billingd cc_tenantd cc_mediad"

pg_url() { # pg_url ROLE
	printf 'postgresql://%s:%s@127.0.0.1:%s/cc' "$1" "$(secret "pg_$1")" "$CC_PG_PORT"
}

start_pg() {
	local dir
	dir=$(pg_dir)
	if [ ! -f "$dir/PG_VERSION" ]; then
		say "initialising PostgreSQL in $dir"
		local pw; pw=$(mktemp /tmp/cc-pgpw.XXXXXX)
		secret pg_admin > "$pw"; chown "$(pg_user)" "$pw"
		as_pg "$PGBIN/initdb" -D "$dir" -U cc_admin --pwfile="$pw" \
			--auth-host=scram-sha-256 --auth-local=reject -E UTF8 --locale=C.UTF-8 \
			> "$LOG/pg-init.log" 2>&1 || die "initdb failed (log: $LOG/pg-init.log)"
		rm -f "$pw"
		cat >> "$dir/postgresql.conf" <<-PGCONF
		listen_addresses = '127.0.0.1'
		unix_socket_directories = ''
		max_connections = 200
		shared_buffers = 256MB
		synchronous_commit = on
		logging_collector = off
		timezone = 'UTC'
		PGCONF
	fi
	sed -i "s/^port = .*//" "$dir/postgresql.conf"
	echo "port = $CC_PG_PORT" >> "$dir/postgresql.conf"
	if ! as_pg "$PGBIN/pg_ctl" -D "$dir" status > /dev/null 2>&1; then
		touch "$LOG/postgres.log"; chown "$(pg_user)" "$LOG/postgres.log"
		as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$LOG/postgres.log" -w -t 30 start > /dev/null \
			|| die "PostgreSQL did not start (log: $LOG/postgres.log)"
	fi
	healthy pg 15 pg_answers
	local r
	for r in kamailio $PG_ROLES; do secret "pg_$r" > /dev/null; done
	PGPASSWORD=$(secret pg_admin) "$TOP/ops/db/migrate.sh" \
		"postgresql://cc_admin@127.0.0.1:$CC_PG_PORT" "$SECRETS" \
		>> "$LOG/migrate.log" 2>&1 || die "migrations failed (log: $LOG/migrate.log)"
}

stop_pg() {
	local dir
	[ -e "$CC_VAR/pg" ] || return 0
	dir=$(readlink -f "$CC_VAR/pg")
	[ -f "$dir/PG_VERSION" ] || return 0
	as_pg "$PGBIN/pg_ctl" -D "$dir" -m fast -w stop > /dev/null 2>&1 || true
}

# -------------------------------------------------------------------- nats
# One user per service, each allowed only its own subjects (nats-server 2.9
# authorization; a connection without a user is refused). Replies to a
# user's requests come to _INBOX.<user>.> (lib/events.c sets that prefix);
# allow_responses lets a responder answer the requests it received and
# nothing else. JetStream is reached through its $JS.API subjects.
nats_user() { # nats_user NAME 'PUBLISH...' 'SUBSCRIBE...' [allow_responses]
	local pub sub
	pub=$(printf '"%s", ' $2); sub=$(printf '"%s", ' $3 "_INBOX.$1.>")
	cat <<-USER
	    { user: "$1", password: "$(nats_password "$1")", permissions: {
	        publish: { allow: [ ${pub%, } ] }
	        subscribe: { allow: [ ${sub%, } ] }
	        ${4:+allow_responses: true}
	    } }
	USER
}

nats_conf() {
	local stream='$JS.API.STREAM.INFO.CC_EVENTS $JS.API.STREAM.CREATE.CC_EVENTS'
	# money requests to billingd (billing/rpc.h): tenantd asks all three,
	# the operator's tools (billing CLI) close and rerate
	local money='cc.rpc.billing.close cc.rpc.billing.rerate cc.rpc.billing.post'
	local consumer='$JS.API.CONSUMER.INFO.CC_EVENTS.billingd $JS.API.CONSUMER.CREATE.CC_EVENTS.billingd
		$JS.API.CONSUMER.CREATE.CC_EVENTS.billingd.> $JS.API.CONSUMER.DURABLE.CREATE.CC_EVENTS.billingd
		$JS.API.CONSUMER.MSG.NEXT.CC_EVENTS.billingd $JS.ACK.CC_EVENTS.billingd.>'
	# routingd's ACD journal (docs/ACD.md): the stream made at start, read
	# back with an ordered consumer (ephemeral, flow-controlled)
	local acd_journal='$JS.API.STREAM.INFO.CC_ACD $JS.API.STREAM.CREATE.CC_ACD
		$JS.API.CONSUMER.CREATE.CC_ACD $JS.API.CONSUMER.CREATE.CC_ACD.>
		$JS.API.CONSUMER.DELETE.CC_ACD.> $JS.FC.CC_ACD.>'
	local sse='$JS.API.CONSUMER.CREATE.CC_EVENTS $JS.API.CONSUMER.CREATE.CC_EVENTS.>
		$JS.API.CONSUMER.DELETE.CC_EVENTS.> $JS.API.CONSUMER.INFO.CC_EVENTS.>
		$JS.API.CONSUMER.MSG.NEXT.CC_EVENTS.> $JS.FC.CC_EVENTS.>'
	set -f # the subjects' wildcards are not file names
	cat <<-CONF
	# generated by ops/stack.sh at each start of NATS; passwords from $SECRETS
	listen: "127.0.0.1:$CC_NATS_PORT"
	http: "127.0.0.1:$CC_NATS_HTTP_PORT"
	server_name: "cc-$CC_NATS_PORT"
	jetstream { store_dir: "$CC_VAR/nats" }
	authorization {
	  users = [
	$(nats_user routingd "cc.call.> cc.agent.> cc.rpc.credit.lease cc.rpc.credit.take cc.rpc.media.> $stream
		cc.acd.> $acd_journal" \
		"cc.cfg.> cc.rpc.hello.billingd cc.rpc.route.media cc.rpc.route.acd.*" responses)
	# mediad publishes its own four event types only: a mediad taken over
	# through the media it parses cannot forge any call's answer or end
	# (money), nor create the stream
	# (and the ACD's: its requests to routingd, hold and transfer facts)
	$(nats_user mediad "cc.call.*.ivr cc.call.*.bridged cc.call.*.agent_failed cc.call.*.media_ended
		cc.call.*.held cc.call.*.unheld cc.call.*.transferred
		cc.call.*.monitor_started cc.call.*.monitor_mode cc.call.*.monitor_ended
		cc.rpc.route.acd.enqueue cc.rpc.route.acd.position cc.rpc.route.acd.result
		cc.rpc.route.acd.callback
		cc.rpc.route.media \$JS.API.STREAM.INFO.CC_EVENTS" "cc.rpc.media.*.> cc.cfg.>" responses)
	$(nats_user billingd "cc.rpc.hello.billingd $stream $consumer" "cc.rpc.credit.* cc.cfg.> $money" responses)
	# tenantd: the ACD's live state from routingd, dispositions as events,
	# and the SSE stream: ephemeral ordered consumers of CC_EVENTS (created
	# with a cc.*.<tenant>.> filter by tenantd, pushed to its own inbox)
	$(nats_user tenantd "cc.cfg.> \$JS.API.STREAM.INFO.CC_EVENTS $money
		cc.rpc.route.acd.agent cc.rpc.route.acd.live cc.rpc.route.acd.call cc.call.*.disposition
		$sse" "")
	$(nats_user tools "cc.call.> cc.rpc.ping $stream \$JS.API.STREAM.MSG.GET.CC_EVENTS cc.rpc.billing.close cc.rpc.billing.rerate" "cc.rpc.ping" responses)
	  ]
	}
	CONF
	set +f
}

start_nats() {
	mkdir -p "$CC_VAR/nats"
	(umask 077; nats_conf > "$RUN/nats.conf")
	spawn nats nats-server -c "$RUN/nats.conf"
	healthy nats 15 nats_answers
}

# --------------------------------------------------------------- rtpengine
start_rtpengine() {
	spawn rtpengine rtpengine --config-file=none --table=-1 --interface=127.0.0.1 \
		--listen-ng=127.0.0.1:"$CC_NG_PORT" --listen-tcp-ng=127.0.0.1:"$CC_NG_TCP_PORT" \
		--dtmf-log-ng-tcp --port-min="$CC_RTP_MIN" --port-max="$CC_RTP_MAX" \
		--foreground --log-stderr --log-level=5 --delete-delay=0 --num-threads=2 \
		--pidfile="$RUN/rtpengine.d.pid"
	healthy rtpengine 15 ng_answers
}

# ------------------------------------------------------------------ TLS
ensure_cert() {
	[ -s "$SECRETS/tls.key" ] && return 0
	say "generating a self-signed certificate for 127.0.0.1"
	openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$SECRETS/tls.key" -out "$SECRETS/tls.crt" > /dev/null 2>&1
	chmod 600 "$SECRETS/tls.key"
}

# ---------------------------------------------------------------- kamailio
start_kamailio() {
	local cfg=$RUN/kamailio/kamailio.cfg defines=""
	mkdir -p "$RUN/kamailio"
	ensure_cert
	[ -n "$CC_BARE" ] && defines="#!define BARE_RELAY"
	sed -e "s|@DEFINES@|$defines|" \
	    -e "s|@RUN@|$RUN|g" \
	    -e "s|@SIP_PORT@|$CC_SIP_PORT|g" \
	    -e "s|@SIP_TLS_PORT@|$CC_SIP_TLS_PORT|g" \
	    -e "s|@WS_ORIGIN@|$CC_WS_ORIGIN|g" \
	    -e "s|@NG_PORT@|$CC_NG_PORT|g" \
	    -e "s|@EVAPI_PORT@|$CC_EVAPI_PORT|g" \
	    -e "s|@KAM_CHILDREN@|$CC_KAM_CHILDREN|g" \
	    -e "s|@KAM_ASYNC_WORKERS@|$CC_KAM_ASYNC_WORKERS|g" \
	    -e "s|@KAM_DEBUG@|$CC_KAM_DEBUG|g" \
	    -e "s|@PIKE_DENSITY@|$CC_PIKE_DENSITY|g" \
	    -e "s|@TRUNK_DENSITY@|$CC_TRUNK_DENSITY|g" \
	    -e "s|@MAX_CONTACTS@|$CC_MAX_CONTACTS|g" \
	    -e "s|@EVAPI_SECRET@|$(secret evapi)|g" \
	    -e "s|@MEDIA_SECRET@|$(secret media)|g" \
	    -e "s|@TOPOH_KEY@|$(secret topoh)|g" \
	    -e "s|@MAX_CALL_S@|$CC_MAX_CALL_S|g" \
	    -e "s|@BARE_TARGET@|$CC_BARE|g" \
	    -e "s|@KAM_DB_URL@|postgres://kamailio:$(secret pg_kamailio)@127.0.0.1:$CC_PG_PORT/cc|g" \
	    "$TOP/ops/kamailio/kamailio.cfg" > "$cfg"
	chmod 600 "$cfg"
	media_address
	cat > "$RUN/kamailio/tls.cfg" <<-TLS
	[server:default]
	method = TLSv1.2+
	verify_certificate = no
	require_certificate = no
	private_key = $SECRETS/tls.key
	certificate = $SECRETS/tls.crt

	[client:default]
	method = TLSv1.2+
	verify_certificate = no
	require_certificate = no
	TLS
	kamailio -c -f "$cfg" > "$LOG/kamailio-check.log" 2>&1 \
		|| die "Kamailio config does not load (log: $LOG/kamailio-check.log)"
	# TLSF for both shared and private memory: O(1) allocation. With 5.6's
	# default (qm) Kamailio spent 1.56-1.64 ms of CPU per full-path call at
	# 300 calls/s, with TLSF 1.32-1.33 (docs/BENCHMARKS.md)
	# Kamailio refuses to start while its pid file names a live process, and
	# a stopped Kamailio may linger as a zombie under an init that is slow to
	# reap: we start it only when our own pid file says it is not running
	rm -f "$RUN/kamailio/kamailio.pid"
	CC_SIP_TCP_PER_ADDR=$CC_SIP_TCP_PER_ADDR "$TOP/ops/sip-firewall.sh" add "$CC_SIP_PORT" "$CC_SIP_TLS_PORT"
	# Kamailio logs to stderr without a time: each line is stamped
	spawn_stamped kamailio kamailio -DD -E -f "$cfg" -m 256 -M 32 -x tlsf -X tlsf \
		-P "$RUN/kamailio/kamailio.pid"
	healthy kamailio 20 sip_answers
	healthy kamailio 10 rpc_answers
	# not a connection: a probe would count as a routingd client
	healthy kamailio 10 evapi_listening
}
evapi_listening() { ss -Hltn "sport = :$CC_EVAPI_PORT" | grep -q .; }

# mediad's address is Kamailio's group 3 (docs/MEDIA.md): trusted by
# address, as trunks are (group 1, written by tenantd). Written before each
# start of Kamailio, which loads the table then.
media_address() {
	PGPASSWORD=$(secret pg_admin) psql -h 127.0.0.1 -p "$CC_PG_PORT" -U cc_admin -d cc -qtAX \
		-v ON_ERROR_STOP=1 -c "BEGIN; DELETE FROM kamailio.address WHERE grp = 3;
		INSERT INTO kamailio.address (grp, ip_addr, mask, port, tag)
		VALUES (3, '127.0.0.1', 32, $CC_MEDIA_SIP_PORT, 'mediad'); COMMIT;" \
		>> "$LOG/migrate.log" 2>&1 || die "cannot write mediad's address for Kamailio (log: $LOG/migrate.log)"
}

# ----------------------------------------------------------------- daemons
# daemon_env NAME: NAME's own database role and NATS user (its password in
# a file: no secret on a command line)
daemon_env() {
	export CC_PG_URL; CC_PG_URL=$(pg_url "cc_$1")
	export CC_NATS_URL=nats://127.0.0.1:$CC_NATS_PORT
	export CC_NATS_CREDS; CC_NATS_CREDS=$(nats_creds "$1")
	export CC_SPOOL_DIR=$CC_VAR/spool
	export CC_SIP_DOMAIN CC_API_PORT CC_EVAPI_PORT CC_ROUTING_METRICS_PORT CC_ROUTING_RT_PRIO
	export CC_MEDIA_SIP_PORT CC_MEDIA_RTP_MIN CC_MEDIA_RTP_MAX CC_MEDIA_METRICS_PORT
	export CC_MEDIA_HEARTBEAT_MS CC_ROUTING_MEDIA_DEAD_MS CC_MEDIA_RT_PRIO CC_MEDIA_PROXY=127.0.0.1:$CC_SIP_PORT
	export CC_RPC_SOCKET=$RUN/kamailio/rpc.sock CC_KAM_RPC_FIFO=$RUN/kamailio/rpc.fifo
	export CC_TLS_CERT=$SECRETS/tls.crt CC_TLS_KEY=$SECRETS/tls.key
	export CC_OPERATOR_TOKEN_FILE=$CC_VAR/operator.token
	# the recordings' store and the local KMS: mediad writes, tenantd reads
	export CC_REC_STORE=${CC_REC_STORE:-$CC_VAR/recordings} CC_SECRETS_DIR=$SECRETS
	secret evapi > /dev/null
	export CC_EVAPI_SECRET_FILE=$SECRETS/evapi
	secret media > /dev/null
	export CC_MEDIA_SECRET_FILE=$SECRETS/media
}

start_tenantd() {
	ensure_cert
	(daemon_env tenantd; export CC_DESK_WSS=wss://127.0.0.1:$CC_SIP_TLS_PORT
	 spawn_supervised tenantd "$BUILD/tenantd/tenantd")
	healthy tenantd 15 api_answers
}

routingd_connected() {
	CC_VAR=$CC_VAR "$TOP/ops/kamrpc.sh" pv.shvGet '["routingd"]' 2>/dev/null \
		| tr -d ' \t\n' | grep -Eq '"value":[1-9]'
}

start_routingd() {
	(daemon_env routingd; spawn_supervised routingd "$BUILD/routing/routingd")
	healthy routingd 10 routingd_connected
	healthy routingd 10 metrics_answer
}

# mediad: alive once routingd has its heartbeat (routingd then sends it
# calls), and its metrics answer
media_alive() {
	[ "$CC_ROUTING_METRICS_PORT" = 0 ] && return 0
	curl -s --max-time 2 "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" \
		| grep -Eq '^cc_routing_media_instances_alive [1-9]'
}
mediad_metrics() {
	[ "$CC_MEDIA_METRICS_PORT" = 0 ] && return 0
	curl -s --max-time 2 "http://127.0.0.1:$CC_MEDIA_METRICS_PORT/metrics" | grep -q '^cc_media'
}
have_mediad() { [ -x "$BUILD/media/mediad" ]; }

start_mediad() {
	have_mediad || return 0   # not built yet (docs/MEDIA.md): flows answer 503
	(daemon_env mediad; spawn_supervised mediad "$BUILD/media/mediad")
	healthy mediad 15 media_alive
	healthy mediad 10 mediad_metrics
}

start_billingd() {
	(daemon_env billingd; spawn_supervised billingd "$BUILD/billing/billingd")
	healthy billingd 15 billingd_answers
}

# billingd before tenantd and routingd: it creates the event stream and its
# consumer (tenantd may only look the stream up)
# mediad after routingd: it is alive for calls once routingd has its heartbeat
ALL="pg nats rtpengine kamailio billingd tenantd routingd mediad"

start() {
	local parts="" p
	for p in ${*:-$ALL}; do
		[ -n "$CC_BARE" ] && [ "$p" = routingd ] && continue
		[ "$p" = mediad ] && { [ -n "$CC_BARE" ] || ! have_mediad; } && continue
		parts="$parts $p"
	done
	save_env
	# every port first: a start that cannot succeed starts nothing
	for p in $parts; do part_running "$p" || ports_free "$p"; done
	for p in $parts; do
		if part_running "$p"; then
			start_check "$p"
			continue
		fi
		ports_free "$p"   # again: a port may have been taken meanwhile
		STARTED="$STARTED $p"
		"start_$p"
	done
	STARTED=""
}

part_running() {
	if [ "$1" = pg ]; then
		[ -e "$CC_VAR/pg" ] && as_pg "$PGBIN/pg_ctl" -D "$(readlink -f "$CC_VAR/pg")" status > /dev/null 2>&1
	else
		pid_alive "$1"
	fi
}

# start_check PART: a part already running still has to answer as itself
start_check() {
	case $1 in
	pg) start_pg ;;   # up already: it checks the answer, and applies new migrations
	nats) healthy nats 5 nats_answers ;;
	rtpengine) healthy rtpengine 5 ng_answers ;;
	# (not SIP: pike may have blocked loopback after a flood)
	kamailio) healthy kamailio 5 rpc_answers ;;
	tenantd) healthy tenantd 5 api_answers ;;
	routingd) healthy routingd 5 routingd_connected ;;
	billingd) healthy billingd 5 billingd_answers ;;
	mediad) healthy mediad 5 media_alive ;;
	esac
}

stop() {
	local parts=${*:-$ALL} p rev=""
	for p in $parts; do rev="$p $rev"; done
	for p in $rev; do
		case $p in
		pg) stop_pg ;;
		# a part that cannot be stopped cleanly never keeps the others running
		kamailio) stop_pid kamailio
			"$TOP/ops/sip-firewall.sh" remove "$CC_SIP_PORT" "$CC_SIP_TLS_PORT" ||
				say "kamailio's SIP firewall rules were not all removed" ;;
		*) stop_pid "$p" ;;
		esac
	done
}

status() {
	local p
	for p in $ALL; do
		if [ "$p" = pg ]; then
			as_pg "$PGBIN/pg_ctl" -D "$(readlink -f "$CC_VAR/pg" 2>/dev/null || echo /nonexistent)" status >/dev/null 2>&1 \
				&& echo "pg running" || echo "pg stopped"
		elif pid_alive "$p"; then echo "$p running (pid $(cat "$RUN/$p.pid"))"
		else echo "$p stopped"; fi
	done
}

info() {
	cat <<-INFO

	cc-platform is running (data and settings in $CC_VAR).
	  API         https://127.0.0.1:$CC_API_PORT/v1   (self-signed certificate: curl -k)
	  desktop     https://127.0.0.1:$CC_API_PORT/desk/   (agents sign in with extension and SIP password;
	              the browser must accept the certificate here and at https://127.0.0.1:$CC_SIP_TLS_PORT/)
	  wallboard   https://127.0.0.1:$CC_API_PORT/desk/wall   (supervisors: the agent of a supervisor key, same password)
	  operator    token in $CC_VAR/operator.token
	  SIP         udp and tcp 127.0.0.1:$CC_SIP_PORT, tls 127.0.0.1:$CC_SIP_TLS_PORT,
	              secure WebSocket wss://127.0.0.1:$CC_SIP_TLS_PORT (browsers, from $CC_WS_ORIGIN only)
	              agents register as <extension>@<tenant slug>.$CC_SIP_DOMAIN
	  PostgreSQL  127.0.0.1:$CC_PG_PORT, database cc (admin cc_admin, password in $CC_VAR/secrets/pg_admin;
	              one role per daemon, ops/db/roles.sql)
	  NATS        nats://127.0.0.1:$CC_NATS_PORT (JetStream; monitoring http://127.0.0.1:$CC_NATS_HTTP_PORT)
	              one user per service, user:password in $CC_VAR/secrets/nats_<user>; no anonymous clients
	  rtpengine   ng udp 127.0.0.1:$CC_NG_PORT, media ports $CC_RTP_MIN-$CC_RTP_MAX
	  metrics     http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics (routingd),
	              http://127.0.0.1:$CC_MEDIA_METRICS_PORT/metrics (mediad)
	  mediad      SIP udp 127.0.0.1:$CC_MEDIA_SIP_PORT, media ports $CC_MEDIA_RTP_MIN-$CC_MEDIA_RTP_MAX
	  logs        $CC_VAR/log/

	Try it:
	  TOKEN=\$(cat $CC_VAR/operator.token)
	  curl -sk -H "Authorization: Bearer \$TOKEN" https://127.0.0.1:$CC_API_PORT/v1/tenants
	  make demo      # a tenant, an agent, a call, and its record
	  make stop      # stops everything
	INFO
}

cmd=${1:-}; shift || true
case $cmd in
start) start "$@" ;;
stop) stop "$@" ;;
status) status ;;
info) info ;;
env) for k in $SETTINGS; do printf 'export %s=%q\n' "$k" "${!k}"; done
     printf 'export CC_VAR=%q\nexport CC_PG_URL=%q\nexport CC_NATS_CREDS=%q\nexport CC_NATS_URL=%q\n' \
	    "$CC_VAR" "$(pg_url cc_app)" "$(nats_creds tools)" "nats://127.0.0.1:$CC_NATS_PORT" ;;
pgurl) pg_url "${1:-cc_app}"; echo ;;
*) die "usage: $0 start|stop|status|info|env [part...]" ;;
esac
