#!/usr/bin/env bash
# Flood protection: a source that is not a trunk and sends faster than
# CC_PIKE_DENSITY requests per 2 s is dropped for 60 s; trunks are exempt.
# (Its own stack: the block hits 127.0.0.1, where every test peer lives.)
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
export CC_PIKE_DENSITY=50
stack_up || exit 1

CARRIER=$(pick_port) AGENT=$(pick_port)
new_trunk carrier1 "$CARRIER"
new_tenant acme
new_agent acme 1001 acme-pass-1001
new_number acme +8657112345678 1001
check register_before_flood sip_register 1001 acme.cc.test acme-pass-1001 "$AGENT"

# 400 pings at 200/s from a non-trunk port: most must go unanswered
sipp_run flood -sf "$SIPP_DIR/options.xml" -p "$(pick_port)" -r 200 -m 400 -timeout 15 \
	-recv_timeout 1000 -trace_screen -screen_file "$SIPW/flood.screen"
answered=$(awk -F'|' '/Successful call/ {gsub(/ /, "", $3); print $3}' "$SIPW/flood.screen" | tail -1)
check flood_blocked [ "${answered:-400}" -lt 200 ]
check flood_logged grep -q 'flood from 127.0.0.1' "$CC_VAR/log/kamailio.log"
check blocked_source_stays_blocked not sipp_run ping -sf "$SIPP_DIR/options.xml" -p "$(pick_port)" -m 1 -timeout 3 -timeout_error
# the carrier on the same address is a trunk: never blocked
sip_agent "$AGENT"
check trunk_not_blocked sip_call "$CARRIER" +8657112345678 +8613800000001 200
