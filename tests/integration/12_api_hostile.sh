#!/usr/bin/env bash
# The API under hostile input: every refusal of the 2026-12-01 hostile
# test, one check each. Memory: a bad token's 250 MiB body must not reach
# tenantd's memory. Slow clients: a header deadline and a per-address
# connection limit (both set low here so the test is quick).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
export CC_API_HEADER_TIMEOUT_S=2 CC_API_MAX_CONN_PER_IP=12
stack_up || exit 1
TENANTD_PID=$(cat "$CC_VAR/run/tenantd.pid")
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$TENANTD_PID/status"; }
alive() { kill -0 "$TENANTD_PID" 2>/dev/null; }
# grew_under DELTA_KB LIMIT_KB: memory grew by less than LIMIT. Under
# ASan the sanitizer's quarantine keeps freed blocks (hundreds of MiB after
# a busy parse), so there the bound says nothing and is not checked.
grew_under() { case ${CC_BUILD:-} in *-asan) return 0 ;; esac; [ "$1" -lt "$2" ]; }
# all 'CMD' ...: every command (each a string, evaluated) succeeds
all() { local c; for c in "$@"; do eval "$c" || return 1; done; }

# raw REQUEST: sends REQUEST (printf %b escapes) over TLS as is and puts
# the reply's status in $HTTP, the reply in $RESP ("closed" if none)
raw() {
	RESP=$CC_VAR/raw.txt
	python3 - "$CC_API_PORT" "$1" > "$RESP" 2>/dev/null <<-'EOF'
	import socket, ssl, sys
	ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
	s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10))
	req = sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1")
	s.sendall(req)
	out = b""
	try:
	    while True:
	        b = s.recv(65536)
	        if not b: break
	        out += b
	        if b"\r\n\r\n" in out and b"Content-Length: 0" in out: break
	except Exception:
	    pass
	sys.stdout.write(out.decode("latin-1"))
	EOF
	HTTP=$(head -c 12 "$RESP" | awk '{ print $2 }')
	[ -n "$HTTP" ] || HTTP=closed
}
# the JSON body of a raw reply
rawjson() { sed '1,/^\r$/d' "$RESP" > "$CC_VAR/raw.json"; jq -r "$1" "$CC_VAR/raw.json" 2>/dev/null; }

# the reply says nothing of the database (no PostgreSQL error text)
quiet() { ! grep -qi 'byte sequence\|invalid input\|out of range\|SQL\|UTF8"\|relation\|violates' "$RESP"; }
# status STATUS: the reply has that status and no database text
status() { [ "$HTTP" = "$1" ] && quiet; }

# post_ct CT BODY PATH [TOKEN]: a POST with a given Content-Type
post_ct() {
	RESP=$CC_VAR/resp.json
	HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X POST -H "Authorization: Bearer ${4:-${KEY[acme]}}" \
		-H "Content-Type: $1" --data-binary "$2" "$API$3")
}

new_tenant acme
new_tenant ctemp
new_agent ctemp 3001 s3cret-pass-1
H="Host: 127.0.0.1\r\n"

# ------------------------------------------ memory: refused before the body
# the operator's deck import streams: 100 MiB of bad rows are parsed as
# they come and never held (the 422 counts them all)
{ echo 'prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s'
  yes '86x,bad row,0.1,0,0,60,0' | head -c 104857600; } > "$CC_VAR/bad.csv"
before=$(rss_kb)
HTTP=$(curl -sk -o "$CC_VAR/r.json" -w '%{http_code}' -X POST -T "$CC_VAR/bad.csv" \
	-H "Authorization: Bearer $OPERATOR" -H 'Content-Type: text/csv' \
	"$API/v1/tariffs?name=bad-big&currency=CNY")
after=$(rss_kb)
echo "# tenantd VmRSS before ${before} kB, after a 100 MiB deck of bad rows ${after} kB ($(jq -r .error.bad_lines "$CC_VAR/r.json") bad lines)"
check deck_streamed_not_buffered all '[ "$HTTP" = 422 ]' \
	"[ \"\$(jq -r '.error.bad_lines > 3000000' \"\$CC_VAR/r.json\")\" = true ]" "grew_under $((after - before)) 40960"
# 4 parallel 250 MiB uploads (Content-Length, streamed from a sparse file)
# with a bad token: each is refused from its headers; tenantd never reads
# the body, so its memory does not grow (it grew by ~1 GB before)
truncate -s 250M "$CC_VAR/big.bin"
before=$(rss_kb)
for i in 1 2 3 4; do
	curl -sk -o "$CC_VAR/big$i.out" -w '%{http_code}\n' -X POST -T "$CC_VAR/big.bin" \
		-H 'Authorization: Bearer cc_bad' -H 'Content-Type: text/csv' \
		"$API/v1/tariffs?name=x&currency=CNY" > "$CC_VAR/big$i.code" 2>/dev/null &
done
wait
after=$(rss_kb)
echo "# tenantd VmRSS before ${before} kB, after 4 x 250 MiB with a bad token ${after} kB"
check big_bad_token_401 [ "$(cat "$CC_VAR"/big*.code | sort -u)" = 401 ]
check big_bad_token_rss_flat grew_under $((after - before)) 20480
# the same, chunked (no Content-Length) to a JSON route
before=$(rss_kb)
HTTP=$(head -c 262144000 /dev/zero | curl -sk -o /dev/null -w '%{http_code}' -X POST -T - \
	-H 'Authorization: Bearer cc_bad' -H 'Content-Type: application/json' \
	"$API/v1/tenants/acme/agents" 2>/dev/null)
after=$(rss_kb)
echo "# tenantd VmRSS before ${before} kB, after 250 MiB chunked with a bad token ${after} kB"
check chunked_bad_token_401 all '[ "$HTTP" = 401 ]' "grew_under $((after - before)) 20480"
# a good token, a JSON route: the declared size is refused before reading
HTTP=$(curl -sk -o "$CC_VAR/r.json" -w '%{http_code}' -X POST -T "$CC_VAR/big.bin" \
	-H "Authorization: Bearer ${KEY[acme]}" -H 'Content-Type: application/json' \
	"$API/v1/tenants/acme/agents" 2>/dev/null)
check json_declared_2mib_413 [ "$HTTP" = 413 -a "$(jq -r .error.code "$CC_VAR/r.json")" = payload_too_large ]
# chunked JSON over 1 MiB with a good token: 413 as JSON once it ends
HTTP=$(head -c 2097152 /dev/zero | curl -sk -o "$CC_VAR/r.json" -w '%{http_code}' -X POST -T - \
	-H "Authorization: Bearer ${KEY[acme]}" -H 'Content-Type: application/json' \
	"$API/v1/tenants/acme/agents" 2>/dev/null)
check json_chunked_2mib_413 [ "$HTTP" = 413 -a "$(jq -r .error.code "$CC_VAR/r.json")" = payload_too_large ]
rm -f "$CC_VAR/big.bin" "$CC_VAR/bad.csv"
# a good deck still imports, and a second import during a first is refused
printf 'prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\n86,China,0.10,0,0,60,0\n' > "$CC_VAR/ok.csv"
HTTP=$(curl -sk -o "$CC_VAR/r.json" -w '%{http_code}' -X POST --data-binary @"$CC_VAR/ok.csv" \
	-H "Authorization: Bearer $OPERATOR" -H 'Content-Type: text/csv' "$API/v1/tariffs?name=ok&currency=CNY")
check deck_import_201 [ "$HTTP" = 201 -a "$(jq -r .rows "$CC_VAR/r.json")" = 1 ]
# while a slow upload of deck "ok" holds its transaction, the rest of the
# API goes on: a billing plan naming that deck (a foreign-key check on the
# row the import locks) answers, and a second import is refused, not queued
python3 - "$CC_API_PORT" "$OPERATOR" > "$CC_VAR/slow.out" 2>&1 <<-'EOF' &
	import socket, ssl, sys, time
	ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
	s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20))
	body = b"prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\n86,China,0.10,0,0,60,0\n"
	s.sendall(b"POST /v1/tariffs?name=ok&currency=CNY HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
	          sys.argv[2].encode() + b"\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n" % len(body))
	s.sendall(body[:40]); time.sleep(4); s.sendall(body[40:])
	print(s.recv(4096).split(b"\r\n")[0].decode())
	EOF
SLOW=$!
sleep 1.5
api PUT /v1/tenants/ctemp/billing "$OPERATOR" '{"mode":"prepaid","currency":"CNY","tariffs":{"inbound":"ok"}}'
expect_eq plan_during_slow_import_200 "$HTTP" 200
HTTP=$(curl -sk -o "$CC_VAR/r.json" -w '%{http_code}' -X POST --data-binary @"$CC_VAR/ok.csv" \
	-H "Authorization: Bearer $OPERATOR" -H 'Content-Type: text/csv' "$API/v1/tariffs?name=ok2&currency=CNY")
expect_eq second_import_503 "$HTTP" 503
wait "$SLOW"
check slow_import_201 grep -q '^HTTP/1.1 201' "$CC_VAR/slow.out"

# ------------------------------------------------------ slow clients
# a TLS connection that trickles its headers is shut at the deadline (2 s here)
slow=$(python3 - "$CC_API_PORT" <<-'EOF'
	import socket, ssl, sys, time
	ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
	s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10))
	t0 = time.time()
	try:
	    for c in b"GET /v1/tenants HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
	        s.sendall(bytes([c])); time.sleep(0.25)
	        if time.time() - t0 > 15: break
	    s.settimeout(5); print("closed" if s.recv(100) == b"" else "open", int(time.time() - t0))
	except Exception:
	    print("closed", int(time.time() - t0))
	EOF
)
echo "# slow headers: $slow s"
check slow_headers_closed [ "${slow% *}" = closed -a "${slow#* }" -le 8 ]
# one address holds at most CC_API_MAX_CONN_PER_IP (12 here) connections
limit=$(python3 - "$CC_API_PORT" <<-'EOF'
	import socket, ssl, sys
	ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
	held, refused = [], 0
	for i in range(20):
	    try:
	        held.append(ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)))
	    except Exception:
	        refused += 1
	print(len(held), refused)
	EOF
)
echo "# 20 connections from one address: held, refused = $limit"
check per_address_limit [ "$limit" = "12 8" ]
api GET /v1/tenants/acme "${KEY[acme]}"
expect_eq after_limit_serves "$HTTP" 200

# ------------------------------------------------------- paths (NUL cuts)
api DELETE /v1/tenants/ctemp%00/agents/3001 "$OPERATOR"
expect_eq path_nul_400 "$HTTP" 400
api GET /v1/tenants/ctemp "$OPERATOR"
check path_nul_tenant_kept [ "$(jr .enabled)" = true ]
api GET /v1/tenants/acme%00/agents "${KEY[acme]}"
expect_eq path_nul_get_400 "$HTTP" 400
api GET /v1/tenants/acme/agents/3001%0a "${KEY[acme]}"
expect_eq path_newline_400 "$HTTP" 400
api GET /v1/tenants/acme%7f/agents "${KEY[acme]}"
expect_eq path_del_400 "$HTTP" 400
api GET /v1/tenants/%FF "$OPERATOR"
check path_bad_utf8_400 status 400
api GET '/v1/tenants?after=%FF%FE' "$OPERATOR"
check query_bad_utf8_400 status 400
api GET '/v1/tenants?after=%00' "$OPERATOR"
expect_eq query_nul_400 "$HTTP" 400

# -------------------------------------------------------- idempotency
idem() { # idem KEY PATH TOKEN BODY
	RESP=$CC_VAR/resp.json
	HTTP=$(curl -sk -o "$RESP" -D "$CC_VAR/hdr.txt" -w '%{http_code}' -X POST -H "Authorization: Bearer $3" \
		-H 'Content-Type: application/json' -H "Idempotency-Key: $1" --data-binary "$4" "$API$2")
}
idem bl-1 /v1/tenants/acme/blocklist "${KEY[acme]}" '{"e164":"+8613812345678"}'
expect_eq idem_first_201 "$HTTP" 201
idem bl-1 /v1/tenants/acme/blocklist "${KEY[acme]}" '{"e164":"+8613812345678"}'
check idem_same_body_replayed grep -qi '^Idempotent-Replayed: true' "$CC_VAR/hdr.txt"
idem bl-1 /v1/tenants/acme/blocklist "${KEY[acme]}" '{"e164":"+8613899999999"}'
check idem_other_body_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = Idempotency-Key ]
api GET /v1/tenants/acme/blocklist "${KEY[acme]}"
check idem_other_body_not_stored [ "$(jr '.items|length')" = 1 ]
api PUT /v1/tenants/acme/billing "$OPERATOR" '{"mode":"prepaid","currency":"CNY"}'
idem top-1 /v1/tenants/acme/billing/topups "$OPERATOR" '{"amount":"1.00","reference":"t-1"}'
expect_eq idem_topup_201 "$HTTP" 201
idem top-1 /v1/tenants/acme/billing/topups "$OPERATOR" '{"amount":"999.00","reference":"t-2"}'
expect_eq idem_topup_other_body_422 "$HTTP" 422
api GET /v1/tenants/acme/balance "$OPERATOR"
check idem_topup_posted_once [ "$(jr .balance)" = 1.00 ]
RESP=$CC_VAR/resp.json
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X POST -H "Authorization: Bearer ${KEY[acme]}" \
	-H 'Content-Type: application/json' -H "$(printf 'Idempotency-Key: k\xff\xfe')" \
	--data-binary '{"e164":"+8613800000001"}' "$API/v1/tenants/acme/blocklist")
check idem_key_not_ascii_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = Idempotency-Key ]
idem "$(head -c 201 /dev/zero | tr '\0' k)" /v1/tenants/acme/blocklist "${KEY[acme]}" '{"e164":"+8613800000002"}'
expect_eq idem_key_too_long_400 "$HTTP" 400

# ------------------------------------------------------ strict parsing
post_ct application/json '{"e164":"+8613800000003","e164":"+8613800000004"}' /v1/tenants/acme/blocklist
check json_duplicate_key_400 [ "$HTTP" = 400 -a "$(jr .error.code)" = invalid_json ]
post_ct application/jsonfoo '{"e164":"+8613800000005"}' /v1/tenants/acme/blocklist
expect_eq content_type_prefix_415 "$HTTP" 415
post_ct 'application/json; charset=iso-8859-1' '{"e164":"+8613800000006"}' /v1/tenants/acme/blocklist
expect_eq content_type_latin1_415 "$HTTP" 415
post_ct 'application/json; charset=UTF-8' '{"e164":"+8613800000007"}' /v1/tenants/acme/blocklist
expect_eq content_type_utf8_param_ok "$HTTP" 201
post_ct text/csvx "$(cat "$CC_VAR/ok.csv")" '/v1/tariffs?name=ok&currency=CNY' "$OPERATOR"
expect_eq content_type_csvx_415 "$HTTP" 415
raw "POST /v1/tenants/acme/blocklist HTTP/1.1\r\n${H}Authorization: Bearer ${KEY[acme]}\r\nContent-Type: application/json\r\nContent-Length: 26\r\nContent-Length: 5\r\n\r\n{\"e164\":\"+8613800000008\"}"
check two_content_length_400 [ "$HTTP" = 400 -a "$(rawjson .error.field)" = Content-Length ]
raw "GET /v1/tenants/acme HTTP/1.1\r\n${H}Authorization: Bearer ${KEY[ctemp]}\r\nAuthorization: Bearer ${KEY[acme]}\r\nConnection: close\r\n\r\n"
check two_authorization_400 [ "$HTTP" = 400 -a "$(rawjson .error.field)" = Authorization ]
raw "POST /v1/tenants/acme/blocklist HTTP/1.1\r\n${H}Authorization: Bearer ${KEY[acme]}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 26\r\n\r\n0\r\n\r\n"
expect_eq te_and_cl_400 "$HTTP" 400
raw "OPTIONS /v1/tenants HTTP/1.1\r\n${H}Authorization: Bearer $OPERATOR\r\nConnection: close\r\n\r\n"
expect_eq method_options_501 "$HTTP" 501

# -------------------------------------- permanent errors are 4xx, quietly
api GET /v1/tenants/acme/invoices/0000-01 "${KEY[acme]}"
check invoice_month_0000_404 status 404
api GET /v1/tenants/acme/invoices/9999-12 "${KEY[acme]}"
expect_eq invoice_month_9999_404 "$HTTP" 404
printf 'prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\n86,bad \xff\xfe text,0.10,0,0,60,0\n' > "$CC_VAR/utf.csv"
HTTP=$(curl -sk -o "$CC_VAR/r.json" -w '%{http_code}' -X POST --data-binary @"$CC_VAR/utf.csv" \
	-H "Authorization: Bearer $OPERATOR" -H 'Content-Type: text/csv' "$API/v1/tariffs?name=utf&currency=CNY")
check deck_bad_utf8_422 [ "$HTTP" = 422 -a "$(jq -r '.error.lines[0].error' "$CC_VAR/r.json")" = "description: not valid UTF-8" ]

# ------------------------------------------------ the invoice page headers
curl -sk -D "$CC_VAR/hdr.txt" -o /dev/null -H "Authorization: Bearer ${KEY[acme]}" \
	"$API/v1/tenants/acme/invoices/$(date -u +%Y-%m).html"
check invoice_html_csp grep -qi "^Content-Security-Policy: default-src 'none'" "$CC_VAR/hdr.txt"
check invoice_html_nosniff grep -qi '^X-Content-Type-Options: nosniff' "$CC_VAR/hdr.txt"

# ------------------------------------------------------------- calls paging
C1=$(uuid); C2=$(uuid); C3=$(uuid)
sql "INSERT INTO cc.calls (id, tenant_id, started_at) VALUES ('$C1', '${TID[acme]}', now()), ('$C2', '${TID[acme]}', NULL), ('$C3', '${TID[acme]}', NULL)" > /dev/null
seen=""; after=""
for i in 1 2 3 4; do
	api GET "/v1/tenants/acme/calls?limit=1${after:+&after=$after}" "${KEY[acme]}"
	[ "$HTTP" = 200 ] || break
	seen="$seen $(jr '.items[0].id // empty')"
	after=$(jr '.next // empty')
	[ -n "$after" ] || break
done
check calls_paging_past_null_start [ "$(echo $seen | wc -w)" = 3 ]
api GET "/v1/tenants/acme/calls?after=$(uuid)" "${KEY[acme]}"
check calls_after_unknown_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = after ]

# ------------------------------------------------------------ small contract
api GET /v1/tenants/acme/blocklist "${KEY[acme]}"
check timestamps_one_shape [ "$(jr '[.items[].created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$")] | all')" = true ]
api GET /v1/tenants/acme "${KEY[acme]}"
check timestamps_tenant_shape [ "$(jr '.created_at | test("\\.[0-9]{6}Z$")')" = true ]
name200=$(python3 -c 'print("é" * 200)'); name201=$(python3 -c 'print("é" * 201)')
api POST /v1/tenants/acme/agents "${KEY[acme]}" "{\"extension\":\"1201\",\"name\":\"$name200\",\"password\":\"s3cret-pass-2\"}"
expect_eq name_200_code_points_201 "$HTTP" 201
api POST /v1/tenants/acme/agents "${KEY[acme]}" "{\"extension\":\"1202\",\"name\":\"$name201\",\"password\":\"s3cret-pass-2\"}"
check name_201_code_points_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = name ]
printf '\xef\xbb\xbfprefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\r\n86,"China,\r\nmainland",0.10,0,0,60,0\r\n' > "$CC_VAR/bom.csv"
HTTP=$(curl -sk -o "$CC_VAR/r.json" -w '%{http_code}' -X POST --data-binary @"$CC_VAR/bom.csv" \
	-H "Authorization: Bearer $OPERATOR" -H 'Content-Type: text/csv' "$API/v1/tariffs?name=bom&currency=CNY")
check deck_bom_multiline_201 [ "$HTTP" = 201 -a "$(jq -r .rows "$CC_VAR/r.json")" = 1 ]
check deck_multiline_stored [ "$(sql "SELECT description FROM cc.tariff_rates r JOIN cc.tariff_versions v ON v.id = r.version_id JOIN cc.tariffs t ON t.id = v.tariff_id WHERE t.name = 'bom'")" = "$(printf 'China,\r\nmainland')" ]

check tenantd_alive alive
