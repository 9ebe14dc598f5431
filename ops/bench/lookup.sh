#!/usr/bin/env bash
# The CRM's screen pop at scale (part of make bench, docs/CRM.md): one
# stack, LOOKUP_CUSTOMERS (1,000,000) customers of one tenant loaded through
# the API's CSV import (files of 100,000), LOOKUP_CALLS (1,000,000) call
# records of their numbers (SQL: calls are billingd's to write), then
# LOOKUP_N (2,000) requests of each kind on one kept-alive HTTPS connection,
# timed by curl (request sent to reply read, the TLS handshake excluded):
#   lookup   GET .../lookup?number= of a random customer's number (the pop:
#            its customers and last 10 calls) — the target: p99 < 20 ms
#   phone    GET .../customers?phone=
#   q=2      GET .../customers?q= of a 2-character name (dense: ~1/600 of all)
#   q=3+     GET .../customers?q= of a plate's 6 characters (trigrams)
# Prints p50/p99/max of each and the load times.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=lookup
. "$TOP/tests/lib.sh"
: "${LOOKUP_CUSTOMERS:=1000000}" "${LOOKUP_CALLS:=1000000}" "${LOOKUP_N:=2000}"
PER_FILE=100000
trap stack_down EXIT
stack_up > /dev/null || { echo "# lookup bench: the stack did not start"; exit 1; }
echo "# CRM lookup bench, $(date -u +%FT%TZ); machine: $(nproc) cores, shared"
echo "# $LOOKUP_CUSTOMERS customers of one tenant, $LOOKUP_CALLS calls, $LOOKUP_N requests of each kind"
new_tenant crm > /dev/null
K=${KEY[crm]}
api PUT /v1/tenants/crm/customer-fields "$K" '{"items":[{"name":"plate","type":"text","pop":true},{"name":"purchased","type":"date"}]}'
[ "$HTTP" = 200 ] || { echo "# fields: HTTP $HTTP"; exit 1; }

# names: one of 20 surnames and one or two of 30 given characters; plates
# 浙A + 5 digits (each plate in LOOKUP_CUSTOMERS/100000 customers); numbers
# +86138 + 8 digits, one or two per customer
gen() { # first count -> CSV on stdout
	awk -v first="$1" -v count="$2" 'BEGIN {
		ns = split("王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗", s, " ")
		ng = split("伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀 霞 平 刚 桂 华 英 玉 兰 文 辉 建 国", g, " ")
		print "name,phones,plate,purchased"
		for (i = first; i < first + count; i++) {
			name = s[i % ns + 1] g[int(i / ns) % ng + 1]
			if (i % 3) name = name g[int(i / (ns * ng)) % ng + 1]
			ph = sprintf("+86138%08d", i)
			if (i % 4 == 0) ph = ph sprintf(";+86139%08d", i)
			printf "%s,%s,浙A%05d,2025-%02d-%02d\n", name, ph, i % 100000, i % 12 + 1, i % 28 + 1
		}
	}'
}
t0=$(date +%s.%N)
for ((first = 0; first < LOOKUP_CUSTOMERS; first += PER_FILE)); do
	n=$((LOOKUP_CUSTOMERS - first < PER_FILE ? LOOKUP_CUSTOMERS - first : PER_FILE))
	gen "$first" "$n" > "$CC_VAR/c.csv"
	HTTP=$(curl -sk -o "$CC_VAR/imp.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $K" \
		-H 'Content-Type: text/csv' --data-binary "@$CC_VAR/c.csv" "$API/v1/tenants/crm/customers/import")
	[ "$HTTP" = 201 ] || { echo "# import at $first: HTTP $HTTP $(head -c 300 "$CC_VAR/imp.json")"; exit 1; }
done
t1=$(date +%s.%N)
sql "INSERT INTO cc.calls (id, tenant_id, direction, from_number, to_number, agent, started_at, talk_seconds, disposition, result)
     SELECT gen_random_uuid(), '${TID[crm]}', 'inbound', format('+86138%s', lpad((g % $LOOKUP_CUSTOMERS)::text, 8, '0')),
            '+8657112345678', (1000 + g % 50)::text, now() - make_interval(secs => g), g % 600, 'consultation', 'answered'
     FROM generate_series(1, $LOOKUP_CALLS) g; ANALYZE cc.calls; ANALYZE cc.customers; ANALYZE cc.customer_phones;" > /dev/null
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$LOOKUP_CUSTOMERS" 'BEGIN {
	printf "# load: %d customers by CSV import in %.1f s (%.0f/s); calls and ANALYZE in %.1f s\n", n, b - a, n / (b - a), c - b }'
echo "# database: $(sql "SELECT pg_size_pretty(pg_total_relation_size('cc.customers')) || ' customers (grams GIN ' || pg_size_pretty(pg_relation_size('cc.customers_grams_idx')) || ', trigram GIN ' || pg_size_pretty(pg_relation_size('cc.customers_trgm_idx')) || ')'")"

# kind path-builder: LOOKUP_N URLs in a curl config, one connection
timed() { # kind
	local cfg=$CC_VAR/$1.cfg i
	: > "$cfg"
	for ((i = 0; i < LOOKUP_N; i++)); do
		echo "url = \"$API$("path_$1")\"" >> "$cfg"
		echo 'output = "/dev/null"' >> "$cfg"
	done
	curl -sk -H "Authorization: Bearer $K" -w '%{http_code} %{time_total} %{time_pretransfer}\n' -K "$cfg" > "$CC_VAR/$1.times"
	local bad
	bad=$(awk '$1 != 200' "$CC_VAR/$1.times" | wc -l)
	awk '{ printf "%.3f\n", ($2 - $3) * 1000 }' "$CC_VAR/$1.times" | sort -n > "$CC_VAR/$1.ms"
	awk -v kind="$1" -v bad="$bad" '{ t[NR] = $1 } END {
		printf "| %s | %d | %.2f ms | %.2f ms | %.2f ms | %d |\n", kind, NR, t[int(NR * 0.5) + 1], t[int(NR * 0.99) + 1], t[NR], bad
	}' "$CC_VAR/$1.ms"
}
rnd() { echo $(( (RANDOM * 32768 + RANDOM) % LOOKUP_CUSTOMERS )); }
path_lookup() { printf '/v1/tenants/crm/lookup?number=%%2B86138%08d' "$(rnd)"; }
path_phone() { printf '/v1/tenants/crm/customers?phone=%%2B86138%08d' "$(rnd)"; }
TWO=(%E5%BC%A0%E4%BC%9F %E7%8E%8B%E8%8A%B3 %E6%9D%8E%E5%A8%9C %E4%BC%9F%E5%8D%8E)   # 张伟 王芳 李娜 伟华
path_q2() { echo "/v1/tenants/crm/customers?q=${TWO[RANDOM % 4]}"; }
path_q6() { printf '/v1/tenants/crm/customers?q=a%05d' $((RANDOM % 100000)); }
path_lookup > /dev/null
echo "| request | n | p50 | p99 | max | not 200 |"
echo "|---|---|---|---|---|---|"
timed lookup
timed phone
timed q2
timed q6
p99=$(awk '{ t[NR] = $1 } END { print t[int(NR * 0.99) + 1] }' "$CC_VAR/lookup.ms")
echo "# target lookup p99 < 20 ms: $p99 ms ($(awk -v v="$p99" 'BEGIN { print (v < 20 ? "under" : "OVER") }'))"
