#!/usr/bin/env bash
# The stack's life cycle: starting twice is harmless, TLS answers on the
# SIP and API ports, stopping leaves no process and no open port, and a
# restart comes back with the data.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

ports="$CC_SIP_PORT $CC_SIP_TLS_PORT $CC_API_PORT $CC_PG_PORT $CC_NATS_PORT $CC_NATS_HTTP_PORT $CC_NG_PORT $CC_NG_TCP_PORT $CC_EVAPI_PORT $CC_RPC_PORT $CC_ROUTING_METRICS_PORT"
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
