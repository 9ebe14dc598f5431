#!/usr/bin/env bash
# What the fuzz targets (tests/fuzz, docs/TESTING.md) found in the API,
# sent to a real tenantd: each of these requests once killed it (the
# supervisor started it again; every request in flight was lost).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1
new_tenant acme || exit 1
PID=$(cat "$CC_VAR/run/tenantd.pid")
# the same tenantd answers: not restarted since the section began
alive() { kill -0 "$PID" 2>/dev/null && [ "$(cat "$CC_VAR/run/tenantd.pid")" = "$PID" ]; }
# each section starts with a tenantd that answers (so one crash is not
# counted again by the next section)
answers() { [ "$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OPERATOR" "$API/v1/tenants")" = 200 ]; }
section() { wait_for 30 answers; PID=$(cat "$CC_VAR/run/tenantd.pid"); }
# target TARGET: a GET with that request target, as is
target() {
	RESP=$CC_VAR/resp.json
	HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' --path-as-is --request-target "$1" \
		-H "Authorization: Bearer $OPERATOR" "$API/")
}
# post_file PATH FILE: a JSON POST of the file's bytes
post_file() {
	RESP=$CC_VAR/resp.json
	HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X "${3:-POST}" -H "Authorization: Bearer $OPERATOR" \
		-H 'Content-Type: application/json' --data-binary "@$2" "$API$1")
}

section
# fuzz_api_path: a target libevent cannot parse made tenantd free a NULL URI
for t in '//[' '1:2' '//h:p/'; do
	target "$t"
	expect_eq "unparseable_target_400 ($t)" "$HTTP" 400
done
check unparseable_target_alive alive

section
# fuzz_api_body: jansson's error quotes the bad token, here invalid UTF-8;
# the reply's message could not be made and tenantd aborted
printf '{"name":"carrier\\\xdd\x9e\x9b","port":5060}' > "$CC_VAR/bad-escape.json"
post_file /v1/trunks "$CC_VAR/bad-escape.json"
expect_eq bad_escape_400 "$HTTP" 400
expect_eq bad_escape_code "$(jr .error.code)" invalid_json
check bad_escape_alive alive
section
# an unknown field's name, cut to fit the message, cut in a character
python3 -c 'import sys; sys.stdout.write("{\"" + "é" * 60 + "\":1}")' > "$CC_VAR/long-field.json"
post_file /v1/trunks "$CC_VAR/long-field.json"
expect_eq long_field_400 "$HTTP" 400
expect_eq long_field_code "$(jr .error.code)" invalid_argument
check long_field_alive alive

section
# fuzz_api_body: a plan's currency and deck names are bounded by the table
# (before, any length reached the handler's lookups, also answered 422)
python3 -c 'import sys; sys.stdout.write("{\"mode\":\"prepaid\",\"currency\":\"" + "C" * 2000 + "\"}")' > "$CC_VAR/currency.json"
post_file /v1/tenants/acme/billing "$CC_VAR/currency.json" PUT
expect_eq long_currency_422 "$HTTP" 422
expect_eq long_currency_field "$(jr .error.field)" currency
expect_eq long_currency_by_table "$(jr .error.message)" "'currency' must be an ISO 4217 code like \"CNY\""
printf '{"mode":"prepaid","currency":"CNY","tariffs":{"inbound":"%s"}}' "$(printf 'd%.0s' $(seq 100))" > "$CC_VAR/deck.json"
post_file /v1/tenants/acme/billing "$CC_VAR/deck.json" PUT
expect_eq long_deck_422 "$HTTP" 422
expect_eq long_deck_field "$(jr .error.field)" tariffs.inbound
expect_eq long_deck_by_table "$(jr .error.message)" "'tariffs.inbound' must be a deck's name (1 to 63 characters)"
check bounded_fields_alive alive
