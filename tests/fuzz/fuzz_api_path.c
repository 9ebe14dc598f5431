/* libFuzzer target: the API's request target and route matching
 * (tn_parse_target, then tn_find_route over every route table).
 *
 * The input's first line is the method, the rest the request target as
 * libmicrohttpd hands it over (up to a NUL). Then:
 *   - a target refused is answered 400, once;
 *   - an accepted path is clean: valid UTF-8, no control byte;
 *   - a route found has the request's method and the path's shape: as many
 *     segments as its pattern, each literal segment equal, each
 *     placeholder a non-empty segment that is exactly its r->params entry;
 *     an {id} placeholder holds a UUID (ids are checked before any
 *     handler or query sees them);
 *   - it is the first route of that method whose shape fits (the same
 *     rule, rechecked here by a second matcher), and no route whose
 *     literal segment would fit was passed over for a placeholder;
 *   - none found: no route of that method fits; path_known says whether a
 *     route of another method does.
 */
#include "api.h"
#include "cc.h"
#include "id.h"
#include "tenantd.h"

#include <event2/http.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/queue.h>
#include <string.h>

#include "tenantd_main.h"

static struct tenantd daemon_;

/* the path's segments (after the leading '/'), NULL-terminated; the
 * caller frees out[0] and out */
static char **segments(const char *path, size_t *n)
{
	char *copy = strdup(path), **out = calloc(strlen(path) + 2, sizeof(*out));
	size_t k = 0;

	if (!copy || !out)
		abort();
	out[k++] = copy;
	for (char *p = copy; *p; p++)
		if (*p == '/') {
			*p = '\0';
			out[k++] = p + 1;
		}
	out[k] = NULL;
	*n = k;
	return out;
}

static bool placeholder(const char *seg)
{
	return seg[0] == '{' && seg[strlen(seg) - 1] == '}';
}

/* The second matcher: segment by segment. */
static bool fits(const char *pattern, const char *path)
{
	size_t np, nq;
	char **p = segments(pattern, &np), **q = segments(path, &nq);
	bool ok = np == nq;

	for (size_t i = 0; ok && i < np; i++) {
		if (!placeholder(p[i]))
			ok = strcmp(p[i], q[i]) == 0;
		else
			ok = q[i][0] && (strcmp(p[i], "{id}") != 0 || cc_uuid_valid(q[i]));
	}
	free(p[0]);
	free(p);
	free(q[0]);
	free(q);
	return ok;
}

static void check_shape(struct tn_req *r, const struct tn_route *rt)
{
	size_t np, nq, k = 0;
	char **p = segments(rt->pattern, &np), **q = segments(r->path, &nq);

	if (strcmp(rt->method, r->method) != 0 || np != nq)
		abort();
	for (size_t i = 0; i < np; i++) {
		if (!placeholder(p[i])) {
			if (strcmp(p[i], q[i]) != 0)
				abort();
			continue;
		}
		if (k >= 4 || !r->params[k] || !q[i][0] || strcmp(r->params[k], q[i]) != 0)
			abort();
		if (strcmp(p[i], "{id}") == 0 && !cc_uuid_valid(r->params[k]))
			abort();
		k++;
	}
	for (; k < 4; k++)
		if (r->params[k])
			abort();
	free(p[0]);
	free(p);
	free(q[0]);
	free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nl = memchr(in, '\n', size);
	size_t head = nl ? (size_t)(nl - in) : size;
	struct tn_req *r = calloc(1, sizeof(*r));
	const struct tn_route *found, *first = NULL;
	bool known = false, known_ref = false;

	if (!r)
		abort();
	r->d = &daemon_;
	r->method = strndup(in, head);
	r->uri = nl ? strndup(nl + 1, size - head - 1) : strdup("");
	r->phase_body = true;                    /* replies are kept, never sent */
	TAILQ_INIT(&r->query);
	if (tn_parse_target(r) != CC_OK) {
		if (r->late_status != 400 || !r->late_text)
			abort();
		goto out;
	}
	if (r->late_text || !r->path)
		abort();
	for (const unsigned char *c = (const unsigned char *)r->path; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			abort();
	json_t *utf8 = json_string(r->path);      /* NULL if not UTF-8 */

	if (!utf8)
		abort();
	json_decref(utf8);

	found = tn_find_route(r, &known);
	for (const struct tn_route *const *t = tn_route_tables; *t; t++)
		for (const struct tn_route *rt = *t; rt->method; rt++) {
			if (!fits(rt->pattern, r->path))
				continue;
			known_ref = true;
			if (!first && strcmp(rt->method, r->method) == 0)
				first = rt;
		}
	if (found != first || known != known_ref)
		abort();
	if (found) {
		check_shape(r, found);
		/* a route of the same method with a literal where found has a
		 * placeholder, that fits too, would be unreachable */
		size_t nf, no;
		char **f = segments(found->pattern, &nf);

		for (const struct tn_route *const *t = tn_route_tables; *t; t++)
			for (const struct tn_route *rt = *t; rt->method; rt++) {
				if (rt == found || strcmp(rt->method, found->method) != 0 ||
				    !fits(rt->pattern, r->path))
					continue;
				char **o = segments(rt->pattern, &no);

				for (size_t i = 0; i < nf && i < no; i++)
					if (placeholder(f[i]) && !placeholder(o[i]))
						abort();
				free(o[0]);
				free(o);
			}
		free(f[0]);
		free(f);
	}
out:
	for (int i = 0; i < 4; i++)
		free(r->params[i]);
	evhttp_clear_headers(&r->query);
	free((char *)r->method);
	free(r->uri);
	free(r->path);
	free(r->late_text);
	free(r);
	return 0;
}
