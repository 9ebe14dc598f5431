#!/usr/bin/env bash
# Calls Kamailio's JSON-RPC and prints the answer.
#   ops/kamrpc.sh METHOD [JSON-PARAMS]     e.g. ops/kamrpc.sh pv.shvGet '["routingd"]'
# Over the FIFO $CC_VAR/run/kamailio/rpc.fifo (mode 0600: only the stack's
# own user); the answer comes back on a reply FIFO made next to it.
# CC_VAR defaults to the checkout's var/, as for ops/stack.sh.
set -euo pipefail
method=$1 params=${2:-[]}
TOP=$(cd "$(dirname "$0")/.." && pwd)
dir=${CC_VAR:-$TOP/var}/run/kamailio
[ -p "$dir/rpc.fifo" ] || { echo "kamrpc: no Kamailio RPC FIFO at $dir/rpc.fifo" >&2; exit 1; }
reply=kamrpc_$$_$RANDOM  # a bare name: Kamailio refuses dots and slashes
(umask 077; mkfifo "$dir/$reply")
trap 'rm -f "$dir/$reply"' EXIT
# the reader waits in open() until Kamailio opens the reply FIFO, then reads
# its one answer to the end (Kamailio retries the open for a moment)
timeout 3 cat "$dir/$reply" &
reader=$!
printf '{"jsonrpc":"2.0","method":"%s","params":%s,"reply_name":"%s","id":1}\n' \
	"$method" "$params" "$reply" | timeout 2 tee "$dir/rpc.fifo" > /dev/null \
	|| { echo "kamrpc: Kamailio does not read $dir/rpc.fifo" >&2; kill "$reader" 2>/dev/null; exit 1; }
wait "$reader" || true
