#!/usr/bin/env bash
# The stack's life cycle: starting twice is harmless, TLS answers on the
# SIP and API ports, stopping leaves no process and no open port, a
# restart comes back with the data, a setting changed after the first start
# is reported, Kamailio's log lines carry a time, and a start that finds a
# port taken names it, stops what it started and fails.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

ports="$CC_SIP_PORT $CC_SIP_TLS_PORT $CC_API_PORT $CC_PG_PORT $CC_NATS_PORT $CC_NATS_HTTP_PORT $CC_NG_PORT $CC_NG_TCP_PORT $CC_EVAPI_PORT $CC_ROUTING_METRICS_PORT"
open_ports() {
	local p n=0
	for p in $ports; do ss -Htuln "sport = :$p" | grep -q . && n=$((n + 1)); done
	echo "$n"
}
pids() { cat "$CC_VAR"/run/*.pid 2>/dev/null | sort | tr '\n' ' '; }

new_tenant acme
before=$(pids)
check start_twice_harmless "$TOP/ops/stack.sh" start
expect_eq start_twice_same_processes "$(pids)" "$before"
check sip_tls_handshake bash -c "openssl s_client -connect 127.0.0.1:$CC_SIP_TLS_PORT -brief < /dev/null 2>&1 | grep -q 'Protocol version: TLSv1'"
check api_tls_handshake bash -c "openssl s_client -connect 127.0.0.1:$CC_API_PORT -brief < /dev/null 2>&1 | grep -q 'Protocol version: TLSv1'"
check operator_token_private [ "$(stat -c %a "$CC_VAR/operator.token")" = 600 ]

"$TOP/ops/stack.sh" stop > /dev/null 2>&1
expect_eq stop_closes_every_port "$(open_ports)" 0
left=0
# (a zombie waiting for init to reap it runs nothing and holds nothing)
for p in $before; do
	kill -0 "$p" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ] && left=$((left + 1))
done
expect_eq stop_leaves_no_process "$left" 0

check restart "$TOP/ops/stack.sh" start
api GET /v1/tenants/acme "$OPERATOR"
check restart_keeps_data [ "$HTTP" = 200 -a "$(jr .slug)" = acme ]

# --- a setting changed after the first start: the saved one wins, and says so
out=$(CC_KAM_DEBUG=3 "$TOP/ops/stack.sh" start 2>&1)
check changed_setting_reported grep -q "CC_KAM_DEBUG=3 from the environment is ignored: .*stack.env saved CC_KAM_DEBUG=1" <<< "$out"
check kamailio_log_timestamped grep -qE '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z ' "$CC_VAR/log/kamailio.log"
check kamailio_log_all_timestamped not grep -qvE '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z ' "$CC_VAR/log/kamailio.log"

# --- a start read through a pipe (make run | tail) returns: nothing the
# stack leaves running holds the caller's output open
"$TOP/ops/stack.sh" stop kamailio routingd > /dev/null 2>&1
piped=$(timeout 60 "$TOP/ops/stack.sh" start kamailio routingd 2>&1 | cat; echo "rc=${PIPESTATUS[0]}")
check start_through_pipe_returns grep -q "^rc=0$" <<< "$piped"

# --- the API port taken by another HTTPS server: the start fails, names
# the port and its holder, and leaves nothing of the stack running
"$TOP/ops/stack.sh" stop > /dev/null 2>&1
openssl s_server -quiet -www -accept "127.0.0.1:$CC_API_PORT" -cert "$CC_VAR/secrets/tls.crt" \
	-key "$CC_VAR/secrets/tls.key" < /dev/null > /dev/null 2>&1 &
squatter=$!
wait_for 10 bash -c "ss -Hltn 'sport = :$CC_API_PORT' | grep -q ."
out=$("$TOP/ops/stack.sh" start 2>&1)
rc=$?
check taken_port_fails [ "$rc" != 0 ]
check taken_port_named grep -q "port $CC_API_PORT (CC_API_PORT) is taken by pid $squatter (openssl)" <<< "$out"
check taken_port_not_claimed_running not grep -q "cc-platform is running" <<< "$out"
left=0
for f in "$CC_VAR"/run/*.pid; do
	[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$(cat "$f")/stat" 2>/dev/null)" != Z ] && left=$((left + 1))
done
expect_eq taken_port_leaves_no_process "$left" 0
all_ports=$ports ports="${ports/$CC_API_PORT/}"
expect_eq taken_port_leaves_no_port "$(open_ports)" 0
ports=$all_ports
check taken_port_pg_stopped not grep -q "pg running" <<< "$("$TOP/ops/stack.sh" status)"
kill "$squatter" 2>/dev/null; wait "$squatter" 2>/dev/null

# --- a part that dies at start (here tenantd): the parts started before it
# are stopped again
fake=$CC_VAR/fake-build
mkdir -p "$fake/tenantd"
ln -s "${CC_BUILD:-$TOP/build}/routing" "${CC_BUILD:-$TOP/build}/billing" "$fake/"
printf '#!/bin/sh\necho "tenantd: refusing to start (test)"\nexit 1\n' > "$fake/tenantd/tenantd"
chmod +x "$fake/tenantd/tenantd"
out=$(CC_BUILD=$fake "$TOP/ops/stack.sh" start 2>&1)
rc=$?
check dead_part_fails [ "$rc" != 0 ]
check dead_part_named grep -q "tenantd exited" <<< "$out"
check dead_part_stops_the_rest grep -q "stopping what this start started: pg nats rtpengine kamailio billingd tenantd" <<< "$out"
expect_eq dead_part_leaves_no_port "$(open_ports)" 0
check start_after_fix "$TOP/ops/stack.sh" start
