/* libFuzzer target: the API's JSON body validation (tn_check_body: jansson
 * with duplicate keys refused, then the route's field table), on every
 * route that takes a JSON body.
 *
 * The input's first line names the route ("PATCH /v1/tenants/{slug}");
 * a line naming none picks one by its hash. The rest is the body. Then:
 *   - refused: exactly one reply, 400 or 422, {"error": {"code", "message"}};
 *   - accepted: no reply, and the body holds only what the table allows:
 *     known fields of the declared type, null only where nullable, every
 *     required field (unless the route is a PATCH), each field's check
 *     passes again, strings are whole C strings (no NUL inside) of at most
 *     MAX_STRING bytes, integers fit a 32-bit column, and the shared checks'
 *     bounds hold (names 1..200 characters, E.164, extensions 2..8 digits);
 *   - accepted again: the body printed by jansson validates the same;
 *   - nothing leaks (ASan's leak check).
 * Replies are captured: while r->phase_body is set, api.c keeps the first
 * reply in r->late_status/late_text instead of handing it to
 * libmicrohttpd. */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STRING 1024

#include "tenantd_main.h"

static struct tenantd daemon_;
static const struct tn_route *routes[128];
static size_t n_routes;

static void find_routes(void)
{
	for (const struct tn_route *const *t = tn_route_tables; *t; t++)
		for (const struct tn_route *rt = *t; rt->method; rt++)
			/* a whole document (a flow) is its handler's to check:
			 * fuzz_flow fuzzes lib/flow.c, the checker */
			if (rt->fields && rt->fields != tn_whole_json && n_routes < 128)
				routes[n_routes++] = rt;
	if (!n_routes)
		abort();
}

static const struct tn_route *pick(const char *line, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n_routes; i++) {
		size_t m = strlen(routes[i]->method), p = strlen(routes[i]->pattern);

		if (n == m + 1 + p && memcmp(line, routes[i]->method, m) == 0 && line[m] == ' ' &&
		    memcmp(line + m + 1, routes[i]->pattern, p) == 0)
			return routes[i];
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)line[i]) * 16777619u;
	return routes[h % n_routes];
}

static struct tn_req *req(const struct tn_route *rt, const char *body, size_t len)
{
	struct tn_req *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	r->d = &daemon_;
	r->method = rt->method;
	r->path = strdup(rt->pattern);
	r->route = rt;
	r->phase_body = true;            /* replies are kept, never sent */
	r->buf = malloc(len + 1);
	memcpy(r->buf, body, len);
	r->len = len;
	return r;
}

static void req_free(struct tn_req *r)
{
	json_decref(r->body);
	free(r->buf);
	free(r->late_text);
	free(r->path);
	free(r);
}

/* UTF-8 code points, decoding (jansson has checked the encoding) */
static size_t code_points(const char *s)
{
	size_t n = 0;

	while (*s) {
		unsigned char c = (unsigned char)*s;
		size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

		for (size_t i = 1; i < len; i++)
			if (((unsigned char)s[i] & 0xc0) != 0x80)
				abort();
		s += len;
		n++;
	}
	return n;
}

static bool digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	return n >= min && n <= max && strspn(s, "0123456789") == n;
}

static void verify(struct tn_req *r, json_t *obj, const struct tn_field *fields, bool partial)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		abort();
	json_object_foreach(obj, key, v) {
		const struct tn_field *f = fields;

		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name)
			abort();                         /* an unknown field got through */
		if (json_is_null(v)) {
			if (!f->nullable)
				abort();
			continue;
		}
		if (f->type == JSON_TRUE ? !json_is_boolean(v) : (int)json_typeof(v) != f->type)
			abort();
		if (json_is_string(v)) {
			const char *s = json_string_value(v);

			if (strlen(s) != json_string_length(v) || strlen(s) > MAX_STRING)
				abort();
			if (f->check == tn_check_name && (code_points(s) < 1 || code_points(s) > 200))
				abort();
			if (f->check == tn_check_extension && !digits(s, 2, 8))
				abort();
			if (f->check == tn_check_e164 && (s[0] != '+' || s[1] == '0' || !digits(s + 1, 8, 15)))
				abort();
		}
		if (json_is_integer(v) &&
		    (json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX))
			abort();
		if (f->sub)
			verify(r, v, f->sub, false);
		if (f->check) {
			char *err = NULL;

			if (f->check(r, v, &err) != CC_OK)
				abort();
			free(err);
		}
	}
	for (const struct tn_field *f = fields; f->name && !partial; f++)
		if (f->required && !json_object_get(obj, f->name))
			abort();
}

static void refused(struct tn_req *r)
{
	json_t *e;

	if (!r->late_text || (r->late_status != 400 && r->late_status != 422))
		abort();
	e = json_loads(r->late_text, 0, NULL);
	if (!json_is_string(json_object_get(json_object_get(e, "error"), "code")) ||
	    !json_is_string(json_object_get(json_object_get(e, "error"), "message")))
		abort();
	json_decref(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nl;
	const struct tn_route *rt;
	struct tn_req *r, *again;
	size_t head;

	if (!n_routes)
		find_routes();
	nl = memchr(in, '\n', size);
	head = nl ? (size_t)(nl - in) : size;
	rt = pick(in, head);
	r = req(rt, nl ? nl + 1 : in + size, nl ? size - head - 1 : 0);
	if (tn_check_body(r) != CC_OK) {
		refused(r);
		req_free(r);
		return 0;
	}
	if (r->late_text)
		abort();                                 /* accepted, yet answered */
	verify(r, r->body, rt->fields, rt->partial);

	char *text = json_dumps(r->body, JSON_COMPACT);

	if (!text)
		abort();
	again = req(rt, text, strlen(text));
	free(text);
	if (tn_check_body(again) != CC_OK || again->late_text || !json_equal(again->body, r->body))
		abort();
	req_free(again);
	req_free(r);
	return 0;
}
