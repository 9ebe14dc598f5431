#!/usr/bin/env bash
# Flood protection: requests from one address beyond CC_PIKE_DENSITY per
# 2 s window (CC_TRUNK_DENSITY for a trunk's address) are dropped. Nothing
# is banned: when the flood stops the address is served again at once, so
# a flood spoofed from an office's address does not lock the office out.
# (Its own stack: the limits hit 127.0.0.1, where every test peer lives.)
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
export CC_PIKE_DENSITY=50 CC_TRUNK_DENSITY=100
stack_up || exit 1

CARRIER=$(pick_port) AGENT=$(pick_port)
new_trunk carrier1 "$CARRIER"
new_tenant acme
new_agent acme 1001 acme-pass-1001
new_number acme +8657112345678 1001
check register_before_flood sip_register 1001 acme.cc.test acme-pass-1001 "$AGENT"

# sent SIPp-screen -> how many of its OPTIONS were answered
answered() { awk -F'|' '/Successful call/ {gsub(/ /, "", $3); print $3}' "$1" | tail -1; }

# 400 pings at 200/s from a non-trunk port: most must go unanswered
sipp_run flood -sf "$SIPP_DIR/options.xml" -p "$(pick_port)" -r 200 -m 400 -timeout 15 \
	-recv_timeout 1000 -trace_screen -screen_file "$SIPW/flood.screen"
n=$(answered "$SIPW/flood.screen")
check flood_dropped [ "${n:-400}" -lt 200 ]
check flood_some_answered [ "${n:-0}" -ge 40 ]
check flood_logged grep -q 'flood from 127.0.0.1: over 50 requests in 2 s' "$CC_VAR/log/kamailio.log"
check flood_counted [ "$(kam_stat cc_flood_dropped)" -gt 0 ]
# no ban: the next window serves the same address again
sleep 2.5
check served_again_after_the_window sipp_run ping -sf "$SIPP_DIR/options.xml" -p "$(pick_port)" -m 1 -timeout 3 -timeout_error
# a trunk has its own (higher) density: a call goes through right after a
# non-trunk flood from the same address
sip_agent "$AGENT"
check trunk_not_limited_by_agent_density sip_call "$CARRIER" +8657112345678 +8613800000001 200
# and a trunk flooding beyond its density is limited too
sipp_run trunkflood -sf "$SIPP_DIR/options.xml" -p "$CARRIER" -r 300 -m 600 -timeout 15 \
	-recv_timeout 1000 -trace_screen -screen_file "$SIPW/trunkflood.screen"
n=$(answered "$SIPW/trunkflood.screen")
check trunk_flood_dropped [ "${n:-600}" -lt 400 ]
