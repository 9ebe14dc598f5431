#!/usr/bin/env bash
# The platform's stack on loopback: PostgreSQL, NATS JetStream, rtpengine,
# Kamailio, tenantd, routingd, billingd.
#
#   ops/stack.sh start [part...]   start (all by default), wait until healthy
#   ops/stack.sh stop  [part...]   stop (all by default), in reverse order
#   ops/stack.sh status            what runs, with pids
#   ops/stack.sh env               the settings in force, as shell exports
#                                  (eval "$(ops/stack.sh env)"; build/billing/billing ...)
#
# Every setting comes from the environment (defaults below) and is saved to
# $CC_VAR/stack.env at first start, so later commands and tools agree.
# Tests set CC_VAR to a temporary folder and free ports, so a test stack and
# the dev stack never clash.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
export CC_VAR=${CC_VAR:-$TOP/var}
mkdir -p "$CC_VAR"
CC_VAR=$(cd "$CC_VAR" && pwd)
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
: "${CC_RPC_PORT:=8449}"          # Kamailio JSON-RPC over UDP (reloads)
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
: "${CC_BARE:=}"                  # benchmark only: relay trunk calls to this host:port
SETTINGS="CC_SIP_PORT CC_SIP_TLS_PORT CC_API_PORT CC_PG_PORT CC_NATS_PORT CC_NATS_HTTP_PORT
CC_NG_PORT CC_NG_TCP_PORT CC_EVAPI_PORT CC_RPC_PORT CC_ROUTING_METRICS_PORT CC_RTP_MIN CC_RTP_MAX CC_SIP_DOMAIN
CC_KAM_CHILDREN CC_KAM_ASYNC_WORKERS CC_KAM_DEBUG CC_PIKE_DENSITY CC_TRUNK_DENSITY CC_MAX_CONTACTS CC_SIP_TCP_PER_ADDR CC_MAX_CALL_S CC_ROUTING_RT_PRIO CC_BARE"

RUN=$CC_VAR/run
LOG=$CC_VAR/log
SECRETS=$CC_VAR/secrets
BUILD=${CC_BUILD:-$TOP/build${SAN:+-asan}}
PGBIN=/usr/lib/postgresql/15/bin
mkdir -p "$RUN" "$LOG" "$SECRETS"
chmod 700 "$SECRETS"

save_env() {
	local f=$CC_VAR/stack.env
	[ -f "$f" ] && return 0
	: > "$f"
	for k in $SETTINGS; do printf '%s=%q\n' "$k" "${!k}" >> "$f"; done
}

secret() { # secret NAME: prints it, creating it at first use
	local f=$SECRETS/$1
	[ -s "$f" ] || (umask 077; openssl rand -hex 20 > "$f")
	cat "$f"
}

say() { printf 'stack: %s\n' "$*"; }
die() { printf 'stack: %s\n' "$*" >&2; exit 1; }

# alive: running and not a zombie (a killed daemon whose parent is gone
# may wait to be reaped by an init that never does)
running() { kill -0 "$1" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
pid_alive() { [ -f "$RUN/$1.pid" ] && running "$(cat "$RUN/$1.pid")"; }

wait_tcp() { # wait_tcp PORT SECONDS NAME
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.1
	done
	die "$3 did not open port $1 in $2 s (log: $LOG/$3.log)"
}

# Starts a command in the background with its own log and pid file.
spawn() { # spawn NAME cmd...
	local name=$1; shift
	pid_alive "$name" && return 0
	setsid "$@" >> "$LOG/$name.log" 2>&1 < /dev/null &
	echo $! > "$RUN/$name.pid"
}

stop_pid() { # stop_pid NAME
	local f=$RUN/$1.pid p i
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
	PGPASSWORD=$(secret pg_admin) "$TOP/ops/db/migrate.sh" \
		"postgresql://cc_admin@127.0.0.1:$CC_PG_PORT" "$(secret pg_kamailio)" "$(secret pg_cc_app)" \
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
start_nats() {
	mkdir -p "$CC_VAR/nats"
	spawn nats nats-server -a 127.0.0.1 -p "$CC_NATS_PORT" -m "$CC_NATS_HTTP_PORT" \
		-js -sd "$CC_VAR/nats" -n "cc-$CC_NATS_PORT"
	wait_tcp "$CC_NATS_PORT" 15 nats
}

# --------------------------------------------------------------- rtpengine
start_rtpengine() {
	spawn rtpengine rtpengine --config-file=none --table=-1 --interface=127.0.0.1 \
		--listen-ng=127.0.0.1:"$CC_NG_PORT" --listen-tcp-ng=127.0.0.1:"$CC_NG_TCP_PORT" \
		--dtmf-log-ng-tcp --port-min="$CC_RTP_MIN" --port-max="$CC_RTP_MAX" \
		--foreground --log-stderr --log-level=5 --delete-delay=0 --num-threads=2 \
		--pidfile="$RUN/rtpengine.d.pid"
	wait_tcp "$CC_NG_TCP_PORT" 15 rtpengine
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
	    -e "s|@RPC_PORT@|$CC_RPC_PORT|g" \
	    -e "s|@NG_PORT@|$CC_NG_PORT|g" \
	    -e "s|@EVAPI_PORT@|$CC_EVAPI_PORT|g" \
	    -e "s|@KAM_CHILDREN@|$CC_KAM_CHILDREN|g" \
	    -e "s|@KAM_ASYNC_WORKERS@|$CC_KAM_ASYNC_WORKERS|g" \
	    -e "s|@KAM_DEBUG@|$CC_KAM_DEBUG|g" \
	    -e "s|@PIKE_DENSITY@|$CC_PIKE_DENSITY|g" \
	    -e "s|@TRUNK_DENSITY@|$CC_TRUNK_DENSITY|g" \
	    -e "s|@MAX_CONTACTS@|$CC_MAX_CONTACTS|g" \
	    -e "s|@EVAPI_SECRET@|$(secret evapi)|g" \
	    -e "s|@TOPOH_KEY@|$(secret topoh)|g" \
	    -e "s|@MAX_CALL_S@|$CC_MAX_CALL_S|g" \
	    -e "s|@BARE_TARGET@|$CC_BARE|g" \
	    -e "s|@KAM_DB_URL@|postgres://kamailio:$(secret pg_kamailio)@127.0.0.1:$CC_PG_PORT/cc|g" \
	    "$TOP/ops/kamailio/kamailio.cfg" > "$cfg"
	chmod 600 "$cfg"
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
	CC_SIP_TCP_PER_ADDR=$CC_SIP_TCP_PER_ADDR "$TOP/ops/sip-firewall.sh" add "$CC_SIP_PORT" "$CC_SIP_TLS_PORT"
	spawn kamailio kamailio -DD -E -f "$cfg" -m 256 -M 32 -x tlsf -X tlsf -P "$RUN/kamailio/kamailio.pid"
	wait_tcp "$CC_SIP_PORT" 20 kamailio
	# not wait_tcp: a probe connection would count as a routingd client
	local i
	for ((i = 0; i < 100; i++)); do
		ss -Hltn "sport = :$CC_EVAPI_PORT" | grep -q . && return 0
		sleep 0.1
	done
	die "Kamailio did not open evapi port $CC_EVAPI_PORT (log: $LOG/kamailio.log)"
}

# ----------------------------------------------------------------- daemons
daemon_env() {
	export CC_PG_URL; CC_PG_URL=$(pg_url cc_app)
	export CC_NATS_URL=nats://127.0.0.1:$CC_NATS_PORT
	export CC_SPOOL_DIR=$CC_VAR/spool
	export CC_SIP_DOMAIN CC_API_PORT CC_EVAPI_PORT CC_RPC_PORT CC_ROUTING_METRICS_PORT CC_ROUTING_RT_PRIO
	export CC_TLS_CERT=$SECRETS/tls.crt CC_TLS_KEY=$SECRETS/tls.key
	export CC_OPERATOR_TOKEN_FILE=$CC_VAR/operator.token
	secret evapi > /dev/null
	export CC_EVAPI_SECRET_FILE=$SECRETS/evapi
}

start_tenantd() {
	ensure_cert
	daemon_env
	spawn tenantd "$BUILD/tenantd/tenantd"
	wait_tcp "$CC_API_PORT" 15 tenantd
}

routingd_connected() {
	CC_RPC_PORT=$CC_RPC_PORT "$TOP/ops/kamrpc.sh" pv.shvGet '["routingd"]' 2>/dev/null \
		| tr -d ' \t\n' | grep -Eq '"value":[1-9]'
}

start_routingd() {
	daemon_env
	spawn routingd "$BUILD/routing/routingd"
	local i
	for ((i = 0; i < 100; i++)); do
		routingd_connected && return 0
		pid_alive routingd || die "routingd exited (log: $LOG/routingd.log)"
		sleep 0.1
	done
	die "routingd did not connect to Kamailio (log: $LOG/routingd.log)"
}

start_billingd() {
	daemon_env
	spawn billingd "$BUILD/billing/billingd"
	sleep 0.2
	pid_alive billingd || die "billingd exited (log: $LOG/billingd.log)"
}

ALL="pg nats rtpengine kamailio tenantd routingd billingd"

start() {
	local parts=${*:-$ALL} p
	save_env
	for p in $parts; do
		[ -n "$CC_BARE" ] && [ "$p" = routingd ] && continue
		case $p in
		pg) start_pg ;;
		kamailio) pid_alive kamailio || start_kamailio ;;
		*) "start_$p" ;;
		esac
	done
}

stop() {
	local parts=${*:-$ALL} p rev=""
	for p in $parts; do rev="$p $rev"; done
	for p in $rev; do
		case $p in
		pg) stop_pg ;;
		kamailio) stop_pid kamailio; "$TOP/ops/sip-firewall.sh" remove "$CC_SIP_PORT" "$CC_SIP_TLS_PORT" ;;
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
	  operator    token in $CC_VAR/operator.token
	  SIP         udp and tcp 127.0.0.1:$CC_SIP_PORT, tls 127.0.0.1:$CC_SIP_TLS_PORT
	              agents register as <extension>@<tenant slug>.$CC_SIP_DOMAIN
	  PostgreSQL  127.0.0.1:$CC_PG_PORT, database cc (admin cc_admin, password in $CC_VAR/secrets/pg_admin)
	  NATS        nats://127.0.0.1:$CC_NATS_PORT (JetStream; monitoring http://127.0.0.1:$CC_NATS_HTTP_PORT)
	  rtpengine   ng udp 127.0.0.1:$CC_NG_PORT, media ports $CC_RTP_MIN-$CC_RTP_MAX
	  metrics     http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics (routingd)
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
     printf 'export CC_VAR=%q\nexport CC_PG_URL=%q\n' "$CC_VAR" "$(pg_url cc_app)" ;;
pgurl) pg_url "${1:-cc_app}"; echo ;;
*) die "usage: $0 start|stop|status|info|env [part...]" ;;
esac
