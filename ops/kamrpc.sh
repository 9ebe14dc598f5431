#!/usr/bin/env bash
# Calls Kamailio's JSON-RPC over UDP and prints the answer.
#   ops/kamrpc.sh METHOD [JSON-PARAMS]     e.g. ops/kamrpc.sh pv.shvGet '["routingd"]'
# Port from $CC_RPC_PORT (default 8449).
set -euo pipefail
method=$1 params=${2:-[]}
exec 3<>/dev/udp/127.0.0.1/"${CC_RPC_PORT:-8449}"
printf '{"jsonrpc":"2.0","method":"%s","params":%s,"id":1}' "$method" "$params" >&3
timeout 2 dd bs=65536 count=1 status=none <&3 || true
exec 3>&-
