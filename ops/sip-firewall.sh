#!/usr/bin/env bash
# Per-address limit of SIP TCP/TLS connections, in the kernel.
#
#   ops/sip-firewall.sh add    PORT... (from $CC_SIP_TCP_PER_ADDR)
#   ops/sip-firewall.sh remove PORT...
#
# Kamailio 5.6 (Debian 12) has no per-address connection limit and no read
# deadline for a message (tcp_accept_iplimit and tcp_msg_read_timeout came
# with 5.7): 2,048 half-sent connections from one address took every TCP
# slot and shut every phone out. So a new connection from an address that
# already holds CC_SIP_TCP_PER_ADDR connections to these ports, or from a
# /24 that holds four times that, is reset (iptables connlimit). Each rule carries the comment "cc-sip-<port>", so
# `remove` takes exactly what `add` put in. Needs root (CAP_NET_ADMIN) and
# iptables; without them it says so and the stack runs unprotected.
set -uo pipefail
cmd=${1:-}
shift || true
limit=${CC_SIP_TCP_PER_ADDR:-100}

rule() { # rule PORT MASK LIMIT
	echo INPUT -p tcp --dport "$1" --syn -m connlimit --connlimit-above "$3" \
		--connlimit-mask "$2" -m comment --comment "cc-sip-$1" -j REJECT --reject-with tcp-reset
}

case $cmd in
add)
	[ "$limit" = 0 ] && exit 0
	if [ "$(id -u)" != 0 ] || ! command -v iptables > /dev/null; then
		echo "sip-firewall: not root or no iptables: SIP TCP connections are not limited per address" >&2
		exit 0
	fi
	for p in "$@"; do
		# an address, and its /24 (a few dozen addresses took every slot)
		for r in "32 $limit" "24 $((limit * 4))"; do
			# shellcheck disable=SC2046,SC2086
			iptables -C $(rule "$p" $r) 2> /dev/null || iptables -I $(rule "$p" $r) || {
				echo "sip-firewall: cannot add the limit for port $p" >&2
				exit 0
			}
		done
	done
	;;
remove)
	[ "$(id -u)" = 0 ] && command -v iptables > /dev/null || exit 0
	for p in "$@"; do
		# every rule for this port, whatever limit it was added with; none
		# left is not an error (a second stop): under pipefail grep's 1
		# failed the stack's stop, which then left NATS and rtpengine running
		{ iptables -S INPUT 2> /dev/null | grep -- "--comment cc-sip-$p " || true; } | sed 's/^-A //' |
			while read -r r; do eval "iptables -D $r"; done
	done
	exit 0
	;;
*)
	echo "usage: ops/sip-firewall.sh add|remove PORT..." >&2
	exit 2
	;;
esac
