#!/usr/bin/env bash
# tls_phone: a softphone on SIP over TLS, for the tests (Debian's SIPp is
# built without TLS). Over one TLS connection (openssl s_client) it
# registers with digest authentication, prints "registered", waits for one
# INVITE, answers it with CODE (a final reply: 486 Busy Here, say), takes
# the ACK and exits 0.
#
#   tls_phone.sh HOST PORT USER DOMAIN PASSWORD CODE LOG [WAIT_S]
#
# Every message sent and received is appended to LOG. Exits 1 when the
# registration is refused, 2 when no INVITE comes within WAIT_S (20) s.
set -uo pipefail
HOST=$1 PORT=$2 USER_=$3 DOMAIN=$4 PASS=$5 CODE=$6 LOG=$7 WAIT=${8:-20}

md5() { printf '%s' "$1" | md5sum | cut -d' ' -f1; }
rnd() { od -An -N6 -tx1 /dev/urandom | tr -d ' \n'; }

coproc TLS { exec openssl s_client -quiet -connect "$HOST:$PORT" 2>/dev/null; }
IN=${TLS[0]} OUT=${TLS[1]}
trap 'kill "$TLS_PID" 2>/dev/null' EXIT

# the local end of the connection: the Contact Kamailio reaches us on
for ((i = 0; i < 50; i++)); do
	LPORT=$(ss -Htnp state established "dport = :$PORT" 2>/dev/null |
		awk -v pid="pid=$TLS_PID," 'index($0, pid) { n = split($3, a, ":"); print a[n]; exit }')
	[ -n "$LPORT" ] && break
	sleep 0.1
done
[ -n "$LPORT" ] || { echo "tls_phone: no TLS connection to $HOST:$PORT" >&2; exit 1; }

send() { # send MESSAGE (lines joined with CRLF, a blank line ends the headers)
	# (a builtin: the coprocess's descriptors do not reach subshells)
	printf '%s\r\n' "${1//$'\n'/$'\r\n'}" >&"$OUT"
	printf '>>> sent\n%s\n' "$1" >> "$LOG"
}

# recv SECONDS: one message into HDRS (headers, CR stripped), BODY and
# START (the first line); 1 on timeout or a closed connection
recv() {
	local line len=0
	HDRS="" BODY="" START=""
	while :; do
		IFS= read -r -t "$1" -u "$IN" line || return 1
		line=${line%$'\r'}
		[ -z "$START" ] && [ -z "$line" ] && continue   # keep-alive CRLFs
		[ -z "$line" ] && break
		[ -z "$START" ] && START=$line
		HDRS+="$line"$'\n'
	done
	len=$(hdr Content-Length); len=${len:-0}
	[ "$len" -gt 0 ] && { IFS= read -r -N "$len" -t "$1" -u "$IN" BODY || return 1; }
	printf '<<< received\n%s\n%s\n' "$HDRS" "$BODY" >> "$LOG"
	return 0
}
hdr() { awk -v h="$1" 'index(tolower($0), tolower(h) ":") == 1 { sub(/^[^:]*:[ \t]*/, ""); print; exit }' <<< "$HDRS"; }
param() { sed -n "s/.*[ ,]$1=\"\\{0,1\\}\\([^\",]*\\).*/\\1/p" <<< "$2"; }

CALLID=$(rnd)@127.0.0.1 FTAG=$(rnd) URI="sip:$DOMAIN"
register() { # register CSEQ [AUTHORIZATION]
	send "REGISTER $URI SIP/2.0
Via: SIP/2.0/TLS 127.0.0.1:$LPORT;branch=z9hG4bK$(rnd);rport
From: <sip:$USER_@$DOMAIN>;tag=$FTAG
To: <sip:$USER_@$DOMAIN>
Call-ID: $CALLID
CSeq: $1 REGISTER
Contact: <sip:$USER_@127.0.0.1:$LPORT;transport=tls>
Expires: 300
Max-Forwards: 70${2:+
Authorization: $2}
Content-Length: 0
"
}

register 1
recv 5 || { echo "tls_phone: no answer to REGISTER" >&2; exit 1; }
case $START in
*" 401 "*) ;;
*) echo "tls_phone: REGISTER got '$START', expected 401" >&2; exit 1 ;;
esac
chal=$(hdr WWW-Authenticate)
realm=$(param realm "$chal") nonce=$(param nonce "$chal") qop=$(param qop "$chal")
ha1=$(md5 "$USER_:$realm:$PASS") ha2=$(md5 "REGISTER:$URI")
if [ -n "$qop" ]; then
	cnonce=$(rnd)
	auth="Digest username=\"$USER_\", realm=\"$realm\", nonce=\"$nonce\", uri=\"$URI\", qop=auth, nc=00000001, cnonce=\"$cnonce\", response=\"$(md5 "$ha1:$nonce:00000001:$cnonce:auth:$ha2")\", algorithm=MD5"
else
	auth="Digest username=\"$USER_\", realm=\"$realm\", nonce=\"$nonce\", uri=\"$URI\", response=\"$(md5 "$ha1:$nonce:$ha2")\", algorithm=MD5"
fi
register 2 "$auth"
recv 5 || { echo "tls_phone: no answer to the authenticated REGISTER" >&2; exit 1; }
case $START in
*" 200 "*) echo registered ;;
*) echo "tls_phone: authenticated REGISTER got '$START'" >&2; exit 1 ;;
esac

# wait for the call; answer it; take the ACK
deadline=$((SECONDS + WAIT))
while :; do
	left=$((deadline - SECONDS))
	[ "$left" -gt 0 ] && recv "$left" || { echo "tls_phone: no INVITE in $WAIT s" >&2; exit 2; }
	[[ $START == INVITE\ * ]] && break
done
vias=$(grep -i '^Via:' <<< "$HDRS")
send "SIP/2.0 $CODE Answered By The TLS Phone
$vias
From: $(hdr From)
To: $(hdr To);tag=$(rnd)
Call-ID: $(hdr Call-ID)
CSeq: $(hdr CSeq)
Content-Length: 0
"
recv 5 && [[ $START == ACK\ * ]] || { echo "tls_phone: no ACK for the $CODE" >&2; exit 1; }
exit 0
