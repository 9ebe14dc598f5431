#!/usr/bin/env bash
# make demo: with the dev stack up (make run), provisions a demo tenant
# with one agent and one number, registers the agent with SIPp, places a
# carrier call to the number, and prints the call record from the API.
# Safe to run again: what exists is reused.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
export CC_VAR=${CC_VAR:-$TOP/var}
[ -f "$CC_VAR/stack.env" ] || { echo "demo: the stack is not set up; run 'make run' first" >&2; exit 1; }
. "$CC_VAR/stack.env"
[[ "$("$TOP/ops/stack.sh" status)" == *"routingd running"* ]] || { echo "demo: the stack is not running; run 'make run'" >&2; exit 1; }

API=https://127.0.0.1:$CC_API_PORT
TOKEN=$(cat "$CC_VAR/operator.token")
CARRIER_PORT=${DEMO_CARRIER_PORT:-15060}
AGENT_PORT=${DEMO_AGENT_PORT:-15070}
NUMBER=+8657100000001
WORK=$CC_VAR/demo
mkdir -p "$WORK"

say() { printf '\n== %s\n' "$*"; }
api() { # api METHOD PATH [JSON]
	local args=(-sk -X "$1" -H "Authorization: Bearer $TOKEN")
	[ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' -d "$3")
	curl "${args[@]}" "$API$2"
}

say "tenant 'demo' (operator token; a tenant's own key works the same)"
api POST /v1/tenants '{"slug":"demo","name":"Demo Call Center","timezone":"Asia/Shanghai"}'
say "carrier trunk: calls from 127.0.0.1:$CARRIER_PORT are carrier calls"
api POST /v1/trunks "{\"name\":\"demo-carrier\",\"address\":\"127.0.0.1\",\"port\":$CARRIER_PORT}"
say "agent 1001"
api POST /v1/tenants/demo/agents '{"extension":"1001","name":"Front desk 1","password":"demo-pass-1001"}'
say "number $NUMBER: the operator assigns it to demo, which points it at agent 1001"
api POST /v1/numbers "{\"e164\":\"$NUMBER\",\"tenant\":\"demo\"}"
api POST /v1/tenants/demo/numbers "{\"e164\":\"$NUMBER\",\"target\":{\"type\":\"agent\",\"extension\":\"1001\"}}"

say "agent 1001 registers (SIPp on 127.0.0.1:$AGENT_PORT)"
cd "$WORK"
sipp 127.0.0.1:"$CC_SIP_PORT" -i 127.0.0.1 -sf "$TOP/tests/sipp/register.xml" -set user 1001 \
	-set domain "demo.$CC_SIP_DOMAIN" -set expires 300 -au 1001 -ap demo-pass-1001 \
	-p "$AGENT_PORT" -m 1 -timeout 5 -timeout_error -nostdin > register.out 2>&1 \
	&& echo "registered 1001@demo.$CC_SIP_DOMAIN" || { echo "registration failed (see $WORK/register.out)"; exit 1; }

say "a carrier calls $NUMBER; the agent answers; 2 s of talk"
sipp -i 127.0.0.1 -sf "$TOP/tests/sipp/agent_uas.xml" -p "$AGENT_PORT" -m 1 -timeout 20 -nostdin \
	> agent.out 2>&1 &
agent=$!
sleep 0.3
sipp 127.0.0.1:"$CC_SIP_PORT" -i 127.0.0.1 -sf "$TOP/tests/sipp/carrier_call.xml" -s "$NUMBER" \
	-set from +8613800000001 -p "$CARRIER_PORT" -m 1 -d 2000 -timeout 15 -timeout_error -nostdin \
	> call.out 2>&1 && echo "call answered and hung up" || { echo "call failed (see $WORK/call.out)"; exit 1; }
wait "$agent" || true

say "the call record (GET /v1/tenants/demo/calls?limit=1)"
for _ in $(seq 20); do
	out=$(api GET '/v1/tenants/demo/calls?limit=1')
	case $out in *'"ended_at":"'*) break ;; esac
	sleep 0.25
done
if command -v jq > /dev/null; then jq . <<< "$out"; else echo "$out"; fi
