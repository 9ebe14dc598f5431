#!/usr/bin/env bash
# Issue 16 item 3: the CRM behind the agent desktop (docs/CRM.md). Customers
# (POST, GET, PATCH, DELETE), every 422 of their body, custom fields
# declared per tenant (undeclared and ill-typed values refused), search by
# phone, a customer's calls and the screen pop (GET .../lookup), roles
# (admin writes; supervisor, agent, read_only read; records_admin nothing),
# tenant B never sees tenant A's customers (404), HTML kept as text.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

new_tenant acme
new_tenant beta
A=${KEY[acme]}
B=${KEY[beta]}
new_agent acme 1001 acme-pass-1001
api POST /v1/tenants/acme/keys "$A" '{"role":"agent","agent":"1001"}'
AG=$(jr .token)
api POST /v1/tenants/acme/keys "$A" '{"role":"supervisor","agent":"1001"}'
SUP=$(jr .token)
api POST /v1/tenants/acme/keys "$A" '{"role":"read_only"}'
RO=$(jr .token)
api POST /v1/tenants/acme/keys "$A" '{"role":"records_admin"}'
RA=$(jr .token)
C=/v1/tenants/acme/customers

# --- custom fields
api PUT /v1/tenants/acme/customer-fields "$A" '{"items":[{"name":"plate","type":"text","pop":true},{"name":"purchased","type":"date"},{"name":"mileage","type":"number","required":false}]}'
check fields_put_200 [ "$HTTP" = 200 -a "$(jr '.items | map(.name) | join(",")')" = plate,purchased,mileage -a "$(jr '.items[0].pop')" = true ]
api GET /v1/tenants/acme/customer-fields "$AG"
check fields_get_agent [ "$HTTP" = 200 -a "$(jr '.items | length')" = 3 ]
api PUT /v1/tenants/acme/customer-fields "$AG" '{"items":[]}'
expect_eq fields_put_agent_403 "$HTTP" 403
for bad in '[{"name":"Plate","type":"text"}]' '[{"name":"plate","type":"blob"}]' \
           '[{"name":"plate","type":"text"},{"name":"plate","type":"date"}]' \
           '[{"name":"plate","type":"text","colour":"red"}]' '["plate"]' \
           '[{"name":"plate","type":"text","pop":"yes"}]' '[{"type":"text"}]' \
           '[{"name":"name","type":"text"}]' '[{"name":"phones","type":"text"}]' \
           '[{"name":"tier","type":"text"}]' '[{"name":"id","type":"text"}]'; do
	api PUT /v1/tenants/acme/customer-fields "$A" "{\"items\":$bad}"
	check "fields_bad_422_$(echo "$bad" | md5sum | cut -c1-6)" [ "$HTTP" = 422 -a "$(jr .error.field)" = items ]
done
check fields_reserved_refused_by_db grep -q 'violates check constraint' <<< "$(sql "INSERT INTO cc.customer_fields (tenant_id, name, type, position) VALUES ('${TID[acme]}', 'phones', 'text', 9)" 2>&1)"
api GET /v1/tenants/acme/customer-fields "$A"
check fields_unchanged_after_422 [ "$(jr '.items | length')" = 3 ]

# --- create, read
api POST $C "$A" '{"name":"张伟","phones":["+8613800000001","+8657100000001"],"fields":{"plate":"浙A12345","purchased":"2025-06-01"},"tier":"vip"}'
check create_201 [ "$HTTP" = 201 -a "$(jr .name)" = 张伟 -a "$(jr .tier)" = vip -a "$(jr '.phones | join(",")')" = +8613800000001,+8657100000001 -a "$(jr .fields.plate)" = 浙A12345 ]
ID1=$(jr .id)
api GET $C/$ID1 "$AG"
check get_agent_200 [ "$HTTP" = 200 -a "$(jr .fields.purchased)" = 2025-06-01 ]
api GET $C/$ID1 "$RA"
expect_eq get_records_admin_403 "$HTTP" 403
api POST $C "$AG" '{"name":"x","phones":["+8613800000009"]}'
expect_eq create_agent_403 "$HTTP" 403
api POST $C "$SUP" '{"name":"x","phones":["+8613800000009"]}'
expect_eq create_supervisor_403 "$HTTP" 403
# a second customer on the same number (the pop offers a choice), HTML as text
HTML='<script>alert(1)</script>&amp;'
api POST $C "$A" "{\"name\":\"$HTML\",\"phones\":[\"+8613800000001\"],\"fields\":{\"mileage\":12000.5}}"
check create_shared_number_201 [ "$HTTP" = 201 -a "$(jr .tier)" = normal -a "$(jr .fields.mileage)" = 12000.5 ]
ID2=$(jr .id)
HDR=$(curl -sk -D - -o "$CC_VAR/html.json" -H "Authorization: Bearer $A" "$API$C/$ID2")
check html_stored_as_text [ "$(jq -r .name "$CC_VAR/html.json")" = "$HTML" ]
check html_answered_as_json grep -qi '^content-type: application/json' <<< "$HDR"
check html_in_db_as_is [ "$(sql "SELECT name FROM cc.customers WHERE id = '$ID2'")" = "$HTML" ]

# --- every refusal of the body
bad_body() { # name field json: 422 naming field (400 for form errors when $4)
	api POST $C "$A" "$3"
	check "$1" [ "$HTTP" = "${4:-422}" -a "$(jr .error.field)" = "$2" ]
}
bad_body name_empty_422 name '{"name":"","phones":["+8613800000002"]}'
bad_body name_201_chars_422 name "{\"name\":\"$(printf '伟%.0s' $(seq 201))\",\"phones\":[\"+8613800000002\"]}"
bad_body phones_none_422 phones '{"name":"a","phones":[]}'
bad_body phones_eleven_422 phones "{\"name\":\"a\",\"phones\":[$(seq -f '"+861380000%04g"' -s, 11)]}"
bad_body phone_no_plus_422 phones '{"name":"a","phones":["8613800000002"]}'
bad_body phone_leading_zero_422 phones '{"name":"a","phones":["+0613800000002"]}'
bad_body phone_short_422 phones '{"name":"a","phones":["+123456"]}'
bad_body phone_long_422 phones '{"name":"a","phones":["+1234567890123456"]}'
bad_body phone_letters_422 phones '{"name":"a","phones":["+86138000a0002"]}'
bad_body phone_not_string_422 phones '{"name":"a","phones":[8613800000002]}'
bad_body phone_twice_422 phones '{"name":"a","phones":["+8613800000002","+8613800000002"]}'
bad_body tier_gold_422 tier '{"name":"a","phones":["+8613800000002"],"tier":"gold"}'
bad_body field_undeclared_422 fields '{"name":"a","phones":["+8613800000002"],"fields":{"colour":"red"}}'
bad_body field_date_bad_422 fields '{"name":"a","phones":["+8613800000002"],"fields":{"purchased":"2025-02-30"}}'
bad_body field_date_form_422 fields '{"name":"a","phones":["+8613800000002"],"fields":{"purchased":"01/06/2025"}}'
bad_body field_number_string_422 fields '{"name":"a","phones":["+8613800000002"],"fields":{"mileage":"12"}}'
bad_body field_text_number_422 fields '{"name":"a","phones":["+8613800000002"],"fields":{"plate":12}}'
bad_body field_text_long_422 fields "{\"name\":\"a\",\"phones\":[\"+8613800000002\"],\"fields\":{\"plate\":\"$(printf 'x%.0s' $(seq 201))\"}}"
bad_body name_missing_400 name '{"phones":["+8613800000002"]}' 400
bad_body phones_missing_400 phones '{"name":"a"}' 400
bad_body unknown_400 email '{"name":"a","phones":["+8613800000002"],"email":"a@b"}' 400
bad_body fields_not_object_400 fields '{"name":"a","phones":["+8613800000002"],"fields":[]}' 400
check refusals_stored_nothing [ "$(sql "SELECT count(*) FROM cc.customer_phones WHERE phone = '+8613800000002'")" = 0 ]
# a required field: customers without it refused
api PUT /v1/tenants/acme/customer-fields "$A" '{"items":[{"name":"plate","type":"text","pop":true,"required":true},{"name":"purchased","type":"date"},{"name":"mileage","type":"number"}]}'
bad_body field_required_422 fields '{"name":"a","phones":["+8613800000002"]}'
api POST $C "$A" '{"name":"李娜","phones":["+8613800000003"],"fields":{"plate":"沪B99999"}}'
check create_with_required_201 [ "$HTTP" = 201 ]
ID3=$(jr .id)

# --- PATCH
api PATCH $C/$ID3 "$A" '{"fields":{"mileage":300,"purchased":"2024-02-29"},"phones":["+8613800000004","+8613800000003"]}'
check patch_200 [ "$HTTP" = 200 -a "$(jr .fields.plate)" = 沪B99999 -a "$(jr .fields.mileage)" = 300 -a "$(jr '.phones | join(",")')" = +8613800000004,+8613800000003 -a "$(jr .name)" = 李娜 ]
api PATCH $C/$ID3 "$A" '{"fields":{"mileage":null}}'
check patch_null_removes [ "$HTTP" = 200 -a "$(jr '.fields | has("mileage")')" = false ]
api PATCH $C/$ID3 "$A" '{"fields":{"plate":null}}'
check patch_required_null_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = fields ]
api PATCH $C/$ID3 "$A" '{"fields":{"colour":"red"}}'
check patch_undeclared_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = fields ]
api PATCH $C/$ID3 "$A" '{"phones":["+86"]}'
check patch_bad_phone_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = phones ]
api PATCH $C/$ID3 "$A" '{"name":null}'
expect_eq patch_null_name_400 "$HTTP" 400
api PATCH $C/$ID3 "$AG" '{"name":"x"}'
expect_eq patch_agent_403 "$HTTP" 403
api GET $C/$ID3 "$A"
check patch_refusals_changed_nothing [ "$(jr .fields.plate)" = 沪B99999 -a "$(jr '.phones | length')" = 2 ]

# --- search by phone
api GET "$C?phone=%2B8613800000001" "$SUP"
check phone_search_two [ "$HTTP" = 200 -a "$(jr '.items | length')" = 2 -a "$(jr '[.items[].id] | sort | join(",")')" = "$(printf '%s\n' "$ID1" "$ID2" | sort | paste -sd,)" ]
api GET "$C?phone=%2B8657100000001" "$A"
check phone_search_second_number [ "$(jr '.items | length')" = 1 -a "$(jr '.items[0].id')" = "$ID1" ]
api GET "$C?phone=%2B8613800000001&limit=1" "$A"
check phone_search_paged [ "$(jr '.items | length')" = 1 -a "$(jr .next)" != null ]
api GET "$C?phone=%2B8613800000001&limit=1&after=$(jr .next)" "$A"
check phone_search_page_2 [ "$(jr '.items | length')" = 1 -a "$(jr .next)" != null ]
api GET "$C?phone=8613800000001" "$A"
check phone_search_bad_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = phone ]
api GET "$C?limit=51" "$A"
check search_limit_51_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = limit ]
api GET "$C?after=zzz" "$A"
check search_after_bad_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = after ]
api GET "$C" "$RO"
check list_read_only [ "$HTTP" = 200 -a "$(jr '.items | length')" = 3 ]

# --- search by text: 1-2 characters through the grams, more through trigrams
q() { api GET "$C?q=$(jq -rn --arg q "$1" '$q | @uri')${2:-}" "$A"; }
ids() { jr '[.items[].id] | join(",")'; }
q 张伟
check q_two_chars_name [ "$HTTP" = 200 -a "$(ids)" = "$ID1" ]
q 伟
check q_one_char [ "$(ids)" = "$ID1" ]
q 李
check q_one_char_other [ "$(ids)" = "$ID3" ]
q 浙a
check q_two_chars_field_folded [ "$(ids)" = "$ID1" ]
q A12345
check q_trigram_field_case [ "$(ids)" = "$ID1" ]
q 沪b999
check q_trigram_other [ "$(ids)" = "$ID3" ]
q '<script>'
check q_html_is_text [ "$(ids)" = "$ID2" ]
q 伟张
check q_no_such_pair [ "$HTTP" = 200 -a "$(jr '.items | length')" = 0 ]
q '%'
check q_percent_literal [ "$HTTP" = 200 -a "$(jr '.items | length')" = 0 ]
q '_'
check q_underscore_literal [ "$HTTP" = 200 -a "$(jr '.items | length')" = 0 ]
q "'"
check q_quote_literal [ "$HTTP" = 200 -a "$(jr '.items | length')" = 0 ]
q '\'
check q_backslash_literal [ "$HTTP" = 200 -a "$(jr '.items | length')" = 0 ]
q '  张伟  '
check q_trimmed [ "$(ids)" = "$ID1" ]
q ''
check q_empty_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = q ]
q "$(printf 'x%.0s' $(seq 101))"
check q_101_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = q ]
q "$(printf 'a\tb')"
check q_control_400 [ "$HTTP" = 400 ]
api GET "$C?q=a&phone=%2B8613800000001" "$A"
check q_and_phone_400 [ "$HTTP" = 400 ]
api GET "/v1/tenants/beta/customers?q=%E5%BC%A0%E4%BC%9F" "$B"
check q_beta_sees_nothing [ "$HTTP" = 200 -a "$(jr '.items | length')" = 0 ]
api GET "$C?q=%E5%BC%A0%E4%BC%9F" "$AG"
check q_agent_reads [ "$HTTP" = 200 -a "$(jr '.items | length')" = 1 ]
# after a PATCH the grams follow the new name
api PATCH $C/$ID3 "$A" '{"name":"李华"}'
q 李华
check q_after_patch [ "$(ids)" = "$ID3" ]
q 李娜
check q_old_name_gone [ "$(jr '.items | length')" = 0 ]

# --- calls and the pop
sql "INSERT INTO cc.calls (id, tenant_id, direction, from_number, to_number, agent, started_at, talk_seconds, disposition, result)
     SELECT gen_random_uuid(), '${TID[acme]}', 'inbound', '+8613800000001', '+8657112345678', '1001',
            now() - make_interval(mins => g), g * 10, 'consultation', 'answered' FROM generate_series(1, 12) g;
     INSERT INTO cc.calls (id, tenant_id, direction, from_number, to_number, agent, started_at, talk_seconds, result)
     VALUES (gen_random_uuid(), '${TID[acme]}', 'outbound', '+8657112345678', '+8657100000001', '1001', now(), 5, 'answered'),
            (gen_random_uuid(), '${TID[beta]}', 'inbound', '+8613800000001', '+8657199999999', '2001', now(), 7, 'answered');" > /dev/null
api GET "/v1/tenants/acme/lookup?number=%2B8613800000001" "$AG"
check lookup_200 [ "$HTTP" = 200 -a "$(jr '.customers | length')" = 2 -a "$(jr '.calls | length')" = 10 -a "$(jr '.pop_fields | join(",")')" = plate ]
check lookup_call_shape [ "$(jr '.calls[0] | [.direction, .agent, .duration_s, .disposition, .number] | map(tostring) | join(",")')" = inbound,1001,10,consultation,+8613800000001 ]
check lookup_newest_first [ "$(jr '[.calls[].duration_s] | join(",")')" = 10,20,30,40,50,60,70,80,90,100 ]
api GET "/v1/tenants/acme/lookup?number=%2B8613899999999" "$AG"
check lookup_unknown_empty [ "$HTTP" = 200 -a "$(jr '.customers | length')" = 0 -a "$(jr '.calls | length')" = 0 ]
# an agent does not rebuild the call log (GET /calls is not theirs): the
# calls of a number no customer has are not its, a customer's calls neither
api GET "/v1/tenants/acme/lookup?number=%2B8657112345678" "$AG"
check lookup_agent_no_customer_no_calls [ "$HTTP" = 200 -a "$(jr '.customers | length')" = 0 -a "$(jr '.calls | length')" = 0 ]
api GET "/v1/tenants/acme/lookup?number=%2B8657112345678" "$SUP"
check lookup_supervisor_any_number [ "$HTTP" = 200 -a "$(jr '.calls | length')" = 10 ]
api GET $C/$ID1/calls "$AG"
expect_eq customer_calls_agent_403 "$HTTP" 403
api GET "$C" "$AG"
check list_agent_unfiltered_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = q ]
api GET "$C?after=$ID1" "$AG"
expect_eq list_agent_paging_422 "$HTTP" 422
api GET "$C?phone=%2B8613800000001" "$AG"
check list_agent_by_phone [ "$HTTP" = 200 -a "$(jr '.items | length')" = 2 ]
api GET "/v1/tenants/acme/lookup?number=abc" "$AG"
check lookup_bad_400 [ "$HTTP" = 400 -a "$(jr .error.field)" = number ]
api GET "/v1/tenants/acme/lookup?number=%2B8613800000001" "$RA"
expect_eq lookup_records_admin_403 "$HTTP" 403
api GET $C/$ID1/calls "$A"
# both its numbers: 12 inbound from the first, 1 outbound to the second
check customer_calls_13 [ "$HTTP" = 200 -a "$(jr '.items | length')" = 13 -a "$(jr '.items[0].direction')" = outbound -a "$(jr '.items[0].number')" = +8657100000001 ]
api GET "$C/$ID1/calls?limit=5" "$A"
N1=$(jr .next)
api GET "$C/$ID1/calls?limit=5&after=$N1" "$A"
check customer_calls_page_2 [ "$HTTP" = 200 -a "$(jr '.items | length')" = 5 -a "$(jr '.items[0].duration_s')" = 50 ]

# --- tenant B sees nothing of A's
api GET /v1/tenants/beta/customers/$ID1 "$B"
expect_eq beta_get_404 "$HTTP" 404
api PATCH /v1/tenants/beta/customers/$ID1 "$B" '{"name":"stolen"}'
expect_eq beta_patch_404 "$HTTP" 404
api DELETE /v1/tenants/beta/customers/$ID1 "$B"
expect_eq beta_delete_404 "$HTTP" 404
api GET /v1/tenants/beta/customers/$ID1/calls "$B"
expect_eq beta_calls_404 "$HTTP" 404
api GET /v1/tenants/acme/customers/$ID1 "$B"
expect_eq beta_key_on_acme_404 "$HTTP" 404
api GET "/v1/tenants/beta/customers?phone=%2B8613800000001" "$B"
check beta_phone_search_empty [ "$HTTP" = 200 -a "$(jr '.items | length')" = 0 ]
api GET "/v1/tenants/beta/lookup?number=%2B8613800000001" "$B"
check beta_lookup_own_calls_only [ "$(jr '.customers | length')" = 0 -a "$(jr '.calls | length')" = 1 -a "$(jr '.calls[0].agent')" = 2001 ]
api POST /v1/tenants/beta/customers "$B" '{"name":"x","phones":["+8613800000005"],"fields":{"plate":"A1"}}'
check beta_has_no_acme_fields [ "$HTTP" = 422 -a "$(jr .error.field)" = fields ]
api GET $C/$ID1 "$A"
check acme_untouched [ "$(jr .name)" = 张伟 ]

# --- DELETE
api DELETE $C/$ID2 "$AG"
expect_eq delete_agent_403 "$HTTP" 403
api DELETE $C/$ID2 "$A"
expect_eq delete_204 "$HTTP" 204
api GET $C/$ID2 "$A"
expect_eq deleted_404 "$HTTP" 404
check deleted_phones_gone [ "$(sql "SELECT count(*) FROM cc.customer_phones WHERE customer_id = '$ID2'")" = 0 ]
api DELETE $C/$ID2 "$A"
expect_eq delete_again_404 "$HTTP" 404
api GET $C/not-a-uuid "$A"
expect_eq bad_id_404 "$HTTP" 404

# --- CSV import: all or nothing, every bad line listed
csv() { # slug file token: HTTP, body in $RESP
	RESP=$CC_VAR/resp.json
	HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X POST -H "Authorization: Bearer $3" \
		-H 'Content-Type: text/csv' --data-binary "@$2" "$API/v1/tenants/$1/customers/import")
}
before=$(sql "SELECT count(*) FROM cc.customers WHERE tenant_id = '${TID[acme]}'")
printf '%s\n' 'name,phones,plate,purchased,mileage' \
	'王芳,+8613900000001,浙B1,2024-01-02,100' \
	'赵强,+8613900000002;+8613900000002,浙B2,,' \
	'钱多,+86139000x0003,浙B3,,' \
	'孙丽,+8613900000004,,2024-01-02,' \
	'周杰,+8613900000005,浙B5,2024-13-01,' \
	'吴用,+8613900000006,浙B6,,12abc' \
	'"郑,和",+8613900000007,浙B7,,' \
	'冯,+8613900000008,浙B8' > "$CC_VAR/bad.csv"
csv acme "$CC_VAR/bad.csv" "$A"
check import_bad_422 [ "$HTTP" = 422 -a "$(jr .error.code)" = invalid_csv -a "$(jr .error.bad_lines)" = 6 ]
check import_lists_lines [ "$(jr '[.error.lines[].line] | join(",")')" = 3,4,5,6,7,9 ]
check import_duplicate_reason grep -q 'comes twice' <<< "$(jr '.error.lines[0].error')"
check import_required_reason [ "$(jr '.error.lines[2].error')" = "plate: is required" ]
check import_nothing_stored [ "$(sql "SELECT count(*) FROM cc.customers WHERE tenant_id = '${TID[acme]}'")" = "$before" ]
printf '%s\n' 'name,plate' 'a,b' > "$CC_VAR/nophones.csv"
csv acme "$CC_VAR/nophones.csv" "$A"
check import_missing_column_422 [ "$HTTP" = 422 -a "$(jr '.error.lines[0].line')" = 1 ]
printf '%s\n' 'name,phones,plate,colour' 'a,+8613900000001,b,red' > "$CC_VAR/unknown.csv"
csv acme "$CC_VAR/unknown.csv" "$A"
check import_unknown_column_422 [ "$HTTP" = 422 -a -n "$(jr '.error.lines[0].error' | grep colour)" ]
# a column's name quoted in the reason: cut at a character (20 CJK characters
# are 60 bytes), bytes that are not UTF-8 replaced; the line is listed
printf 'name,phones,plate,%s\na,+8613900000001,b,c\n' "$(printf '车%.0s' $(seq 20))" > "$CC_VAR/cjk.csv"
csv acme "$CC_VAR/cjk.csv" "$A"
check import_cjk_column_listed [ "$HTTP" = 422 -a "$(jr '.error.lines | length')" = 1 -a "$(jr '.error.lines[0].line')" = 1 -a -n "$(jr '.error.lines[0].error' | grep "unknown column \"$(printf '车%.0s' $(seq 13))\"")" ]
printf 'name,phones,plate,a\xff\xc3b\nd,+8613900000001,e,f\n' > "$CC_VAR/latin.csv"
csv acme "$CC_VAR/latin.csv" "$A"
check import_bad_utf8_column_listed [ "$HTTP" = 422 -a "$(jr '.error.lines | length')" = 1 -a -n "$(jr '.error.lines[0].error' | grep 'unknown column "a??b"')" ]
printf '%s\n' 'name,phones,purchased' 'a,+8613900000001,2024-01-01' > "$CC_VAR/noreq.csv"
csv acme "$CC_VAR/noreq.csv" "$A"
check import_required_column_422 [ "$HTTP" = 422 -a -n "$(jr '.error.lines[0].error' | grep plate)" ]
printf 'name,phones,plate\n' > "$CC_VAR/header.csv"
csv acme "$CC_VAR/header.csv" "$A"
expect_eq import_header_only_422 "$HTTP" 422
# a clean file: quoted fields, a BOM, CRLF, two numbers, tier, HTML as text
printf '\xef\xbb\xbfname,tier,phones,plate,mileage\r\n"王芳",vip,"+8613900000001; +8613900000009",浙B1,100\r\n"<b>赵,强</b>",,+8613900000002,"沪""C""2",2.5\r\n' > "$CC_VAR/good.csv"
csv acme "$CC_VAR/good.csv" "$AG"
expect_eq import_agent_403 "$HTTP" 403
csv acme "$CC_VAR/good.csv" "$A"
check import_201 [ "$HTTP" = 201 -a "$(jr .imported)" = 2 ]
api GET "$C?phone=%2B8613900000009" "$A"
check imported_found_by_second_phone [ "$(jr '.items[0].name')" = 王芳 -a "$(jr '.items[0].tier')" = vip -a "$(jr '.items[0].fields.mileage')" = 100 -a "$(jr '.items[0].phones | join(",")')" = +8613900000001,+8613900000009 ]
api GET "$C?phone=%2B8613900000002" "$A"
check imported_quotes_html [ "$(jr '.items[0].name')" = '<b>赵,强</b>' -a "$(jr '.items[0].fields.plate')" = '沪"C"2' -a "$(jr '.items[0].fields.mileage')" = 2.5 -a "$(jr '.items[0].tier')" = normal ]
csv beta "$CC_VAR/good.csv" "$B"
check import_beta_checks_its_own_fields [ "$HTTP" = 422 -a -n "$(jr '.error.lines[0].error' | grep plate)" ]
check import_beta_nothing [ "$(sql "SELECT count(*) FROM cc.customers WHERE tenant_id = '${TID[beta]}'")" = 0 ]
RESP=$CC_VAR/resp.json
HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X POST -H "Authorization: Bearer $A" \
	-H 'Content-Type: application/json' --data-binary '{}' "$API/v1/tenants/acme/customers/import")
expect_eq import_json_415 "$HTTP" 415

# --- a vip customer's numbers are VIP callers for routingd's ACD (its own
# model code, as routingd's role); a number on the VIP list keeps its entry
vips() { CC_PG_URL=$("$TOP/ops/stack.sh" pgurl cc_routingd) "$TOP/build/tests/acdvips" | sort; }
api POST /v1/tenants/acme/viplist "$A" '{"e164":"+8657100000001","priority":50}'
check viplist_entry_201 [ "$HTTP" = 201 ]
V=$(vips)
check vip_customer_numbers_are_vips [ "$(grep -c '^acme +8613800000001 10$' <<< "$V")" = 1 ]
check vip_list_entry_kept [ "$(grep -c '^acme +8657100000001 ' <<< "$V")" = 1 -a -n "$(grep '^acme +8657100000001 50$' <<< "$V")" ]
check normal_customer_not_vip [ -z "$(grep -E '\+861380000000[34] ' <<< "$V")" ]
check imported_vip_customer [ -n "$(grep '^acme +8613900000009 10$' <<< "$V")" ]
check no_vip_for_beta [ -z "$(grep '^beta ' <<< "$V")" ]
# routingd reads no more of the CRM than the VIP query does; billingd none
as_role() { psql -qtAX -v ON_ERROR_STOP=1 "$("$TOP/ops/stack.sh" pgurl "$1")" -c "$2" 2>&1; }
check routingd_reads_tier [ "$(as_role cc_routingd "SELECT count(*) FROM cc.customers WHERE tier = 'vip'")" -ge 1 ]
check routingd_no_names grep -q 'permission denied' <<< "$(as_role cc_routingd 'SELECT name FROM cc.customers')"
check routingd_no_fields grep -q 'permission denied' <<< "$(as_role cc_routingd 'SELECT * FROM cc.customer_fields')"
for t in customers customer_fields customer_phones; do
	check "billingd_no_$t" grep -q 'permission denied' <<< "$(as_role cc_billingd "SELECT count(*) FROM cc.$t")"
done
api PATCH $C/$ID1 "$A" '{"tier":"normal"}'
check vip_patch_normal_200 [ "$HTTP" = 200 -a "$(jr .tier)" = normal ]
check vip_gone_after_normal [ -z "$(vips | grep '+8613800000001 ')" ]

# --- a tenant's vip customers have at most 10,000 numbers between them
# (routingd holds them all): create, PATCH and import refused beyond
new_tenant gamma
G=${KEY[gamma]}
CG=/v1/tenants/gamma/customers
sql "INSERT INTO cc.customers (id, tenant_id, name, tier, search, grams)
     VALUES ('00000000-0000-4000-8000-000000000001', '${TID[gamma]}', 'many', 'vip', 'many', '');
     INSERT INTO cc.customer_phones (tenant_id, customer_id, phone, position)
     SELECT '${TID[gamma]}', '00000000-0000-4000-8000-000000000001', '+86150' || lpad(g::text, 8, '0'), g
     FROM generate_series(1, 9999) g;" > /dev/null
api POST $CG "$G" '{"name":"a","phones":["+8616000000001","+8616000000002"],"tier":"vip"}'
check vip_cap_create_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = tier ]
api POST $CG "$G" '{"name":"a","phones":["+8616000000001","+8615000000001"],"tier":"vip"}'
check vip_cap_shared_number_counts_once [ "$HTTP" = 201 ]
api POST $CG "$G" '{"name":"b","phones":["+8616000000003","+8616000000004"]}'
check vip_cap_normal_201 [ "$HTTP" = 201 ]
GID=$(jr .id)
api PATCH $CG/$GID "$G" '{"tier":"vip"}'
check vip_cap_patch_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = tier ]
api GET $CG/$GID "$G"
check vip_cap_patch_changed_nothing [ "$(jr .tier)" = normal ]
printf '%s\n' 'name,phones,tier' 'c,+8616000000005,vip' > "$CC_VAR/vipcap.csv"
csv gamma "$CC_VAR/vipcap.csv" "$G"
check vip_cap_import_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = tier ]
check vip_cap_import_nothing [ "$(sql "SELECT count(*) FROM cc.customers WHERE tenant_id = '${TID[gamma]}'")" = 3 ]
printf '%s\n' 'name,phones,tier' 'c,+8616000000005,' > "$CC_VAR/vipcap.csv"
csv gamma "$CC_VAR/vipcap.csv" "$G"
check vip_cap_import_normal_201 [ "$HTTP" = 201 ]

# --- one import at a time per tenant: while beta's is open, gamma's goes
# through and beta's second is 503; an import is at most 32 MB
mkfifo "$CC_VAR/slow.fifo"
curl -sk -o "$CC_VAR/slow.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $B" \
	-H 'Content-Type: text/csv' -H 'Expect:' -T - "$API/v1/tenants/beta/customers/import" \
	< "$CC_VAR/slow.fifo" > "$CC_VAR/slow.code" &
SLOW=$!
exec 7> "$CC_VAR/slow.fifo"
printf 'name,phones\n' >&7
sleep 1
printf '%s\n' 'name,phones' 'd,+8616100000001' > "$CC_VAR/one.csv"
csv gamma "$CC_VAR/one.csv" "$G"
check import_other_tenant_meanwhile_201 [ "$HTTP" = 201 ]
csv beta "$CC_VAR/one.csv" "$B"
check import_same_tenant_meanwhile_503 [ "$HTTP" = 503 ]
printf 'e,+8616100000002\n' >&7
exec 7>&-
wait $SLOW
check import_slow_201 [ "$(cat "$CC_VAR/slow.code")" = 201 ]
csv beta "$CC_VAR/one.csv" "$B"
check import_after_slow_201 [ "$HTTP" = 201 ]
{ echo name,phones; yes 'f,+8616100000003' | head -n 2100000; } > "$CC_VAR/big.csv"
csv beta "$CC_VAR/big.csv" "$B"
check import_over_32mb_413 [ "$HTTP" = 413 ]
rm -f "$CC_VAR/big.csv"
csv beta "$CC_VAR/one.csv" "$B"
check import_after_413_lock_released [ "$HTTP" = 201 ]

# --- a term pg_trgm has no trigram of (no letter or digit: it would scan
# every customer) goes through the grams, every one of them
api POST $CG "$G" '{"name":"Wow!!! Inc","phones":["+8616200000001"]}'
WOW=$(jr .id)
api POST $CG "$G" '{"name":"Hey!! there!","phones":["+8616200000002"]}'
gq() { api GET "$CG?q=$(jq -rn --arg q "$1" '$q | @uri')" "$G"; }
gq '!!!'
check q_punctuation_grams [ "$HTTP" = 200 -a "$(ids)" = "$WOW" ]
gq '!!!!'
check q_punctuation_none [ "$HTTP" = 200 -a "$(jr '.items | length')" = 0 ]
gq '?!?'
check q_punctuation_other_none [ "$HTTP" = 200 -a "$(jr '.items | length')" = 0 ]
gq 'w!!!'
check q_punctuation_with_letter [ "$HTTP" = 200 -a "$(ids)" = "$WOW" ]
check q_punctuation_no_trigram [ "$(sql "SELECT cardinality(show_trgm('!!!'))")" = 0 ]
# the grams answer it, not a LIKE over every customer: without its grams
# (made empty by hand) the customer is not found
sql "UPDATE cc.customers SET grams = '' WHERE id = '$WOW'" > /dev/null
gq '!!!'
check q_punctuation_through_grams [ "$HTTP" = 200 -a "$(jr '.items | length')" = 0 ]

# --- an import committed after its client gave up still tells routingd
# (the viplist notice: its patch counter). libmicrohttpd notices the
# closed connection only when the suspended request resumes, so this
# reaches import_done with the request, not the NULL of a detached one.
metric() { curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
patched_since() { awk -v now="$(metric cc_routing_model_patches_total)" -v was="$1" 'BEGIN { exit !(now > was) }'; }
sql "BEGIN; LOCK TABLE cc.customers IN EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT" > /dev/null &
LOCKER=$!
sleep 0.5
patches=$(metric cc_routing_model_patches_total)
printf '%s\n' 'name,phones,tier' 'v,+8616300000001,vip' > "$CC_VAR/gone.csv"
curl -sk -m 2 -o /dev/null -X POST -H "Authorization: Bearer $B" -H 'Content-Type: text/csv' \
	--data-binary "@$CC_VAR/gone.csv" "$API/v1/tenants/beta/customers/import"
check import_gone_client_timed_out [ $? = 28 ]
wait $LOCKER
check import_gone_committed wait_for 5 sh -c "[ \"\$(PGPASSWORD=\$(cat '$CC_VAR/secrets/pg_admin') psql -h 127.0.0.1 -p $CC_PG_PORT -U cc_admin -d cc -tAc \"SELECT count(*) FROM cc.customer_phones WHERE phone = '+8616300000001'\")\" = 1 ]"
check import_gone_notice_sent wait_for 5 patched_since "${patches:-0}"
