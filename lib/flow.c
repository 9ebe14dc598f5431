/*
 * flow.c: the flow language (docs/FLOWS.md) parsed and checked.
 *
 * One pass over the document builds the nodes: names first (so a
 * reference to any node can be resolved), then each node's fields by the
 * table of its type (a field another type takes is still refused: a
 * "timeout_s" on a play node is a typo the admin wants to hear about).
 * Then the graph: every node must be reachable from start, and every
 * cycle must pass a menu or collect node, where the caller can choose
 * (else the call spins between plays, schedules and gotos forever).
 *
 * The first refusal wins, in document order: the admin fixes one thing at
 * a time and each 422 names the exact field ("nodes.welcome.options.x").
 *
 * Not done on purpose: prompt and flow names are only checked for form;
 * whether they exist is tenantd's question, it knows the tenant.
 */
#include "flow.h"
#include "cc.h"
#include "e164.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const TYPE_NAMES[] = {
	[CC_FLOW_PLAY] = "play", [CC_FLOW_MENU] = "menu", [CC_FLOW_COLLECT] = "collect",
	[CC_FLOW_SCHEDULE] = "schedule", [CC_FLOW_AGENT] = "agent", [CC_FLOW_NUMBER] = "number",
	[CC_FLOW_GOTO] = "goto", [CC_FLOW_HANGUP] = "hangup", [CC_FLOW_QUEUE] = "queue",
};

/* The fields each type takes, besides "type" (NULL-terminated). */
static const char *const TYPE_FIELDS[][12] = {
	[CC_FLOW_PLAY] = { "prompts", "next", "interruptible", NULL },
	[CC_FLOW_MENU] = { "prompt", "timeout_s", "retries", "invalid", "options", "default", NULL },
	[CC_FLOW_COLLECT] = { "prompt", "var", "min_digits", "max_digits", "terminator", "timeout_s",
	                      "retries", "invalid", "next", "default", NULL },
	[CC_FLOW_SCHEDULE] = { "open", "closed", "week", "holidays", NULL },
	[CC_FLOW_AGENT] = { "extension", "timeout_s", "next", NULL },
	[CC_FLOW_NUMBER] = { "number", "timeout_s", "next", NULL },
	[CC_FLOW_GOTO] = { "flow", NULL },
	[CC_FLOW_HANGUP] = { NULL },
	[CC_FLOW_QUEUE] = { "queue", "fallback", "priority", "skills", NULL },
};

static const char *const DAYS[7] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

const char *cc_flow_type_name(enum cc_flow_type t)
{
	return (unsigned)t < CC_ARRAY_LEN(TYPE_NAMES) ? TYPE_NAMES[t] : NULL;
}

/* ------------------------------------------------------------- errors */

struct ctx {
	const json_t *nodes;         /* the document's "nodes" */
	struct cc_flow *f;
	struct cc_flow_error *err;
	const char *node;            /* the node being parsed, for field names */
};

/* Fills the error at nodes.<node>.<field> (field NULL: the node itself). */
__attribute__((format(printf, 3, 4)))
static int fail(struct ctx *c, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (c->node)
		snprintf(c->err->field, sizeof(c->err->field), "nodes.%s%s%s", c->node,
		         field ? "." : "", field ? field : "");
	else
		snprintf(c->err->field, sizeof(c->err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
	va_end(ap);
	return CC_ERROR;
}

/* ------------------------------------------------------------- values */

/* The form of node, prompt, flow and variable names (the database's). */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n >= CC_FLOW_NAME_MAX || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]) ||
	    !s[0])
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

#define NAME_RULE "must be 1 to 63 of a-z, 0-9, '_' and '-', starting with a letter or digit"

/* A name-shaped string field into out; CC_DECLINED when absent and optional. */
static int get_name(struct ctx *c, const json_t *node, const char *field, bool required,
                    char out[CC_FLOW_NAME_MAX])
{
	const json_t *v = json_object_get(node, field);

	if (!v)
		return required ? fail(c, field, "'%s' is required for a %s node", field,
		                       json_string_value(json_object_get(node, "type")))
		                : CC_DECLINED;
	if (!json_is_string(v))
		return fail(c, field, "must be a string");
	if (!name_ok(json_string_value(v)))
		return fail(c, field, NAME_RULE);
	snprintf(out, CC_FLOW_NAME_MAX, "%s", json_string_value(v));
	return CC_OK;
}

/* An integer field in [lo, hi], dflt when absent. */
static int get_int(struct ctx *c, const json_t *node, const char *field, int lo, int hi, int dflt,
                   int *out)
{
	const json_t *v = json_object_get(node, field);

	*out = dflt;
	if (!v)
		return CC_OK;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return fail(c, field, "must be an integer from %d to %d", lo, hi);
	*out = (int)json_integer_value(v);
	return CC_OK;
}

/* A reference to another node: its index; absent and optional: NO_NODE. */
static int get_ref(struct ctx *c, const json_t *node, const char *field, bool required, int *out)
{
	char name[CC_FLOW_NAME_MAX];
	int rc = get_name(c, node, field, required, name);

	*out = CC_FLOW_NO_NODE;
	if (rc == CC_DECLINED)
		return CC_OK;
	if (rc != CC_OK)
		return rc;
	if ((*out = cc_flow_node_index(c->f, name)) == CC_FLOW_NO_NODE)
		return fail(c, field, "no node '%s' in this flow", name);
	return CC_OK;
}

/* Adds name to a distinct list (prompts or flows of the whole flow). */
static void add_distinct(char (**list)[CC_FLOW_NAME_MAX], size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*list)[i], name) == 0)
			return;
	*list = realloc(*list, (*n + 1) * sizeof(**list));
	CC_BUG_ON(!*list);
	snprintf((*list)[*n], CC_FLOW_NAME_MAX, "%s", name);
	(*n)++;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's). */
static int32_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (int32_t)(era * 146097 + doe - 719468);
}

/* "YYYY-MM-DD", a real date of 2000..2199, into days since 1970. */
static bool parse_date(const char *s, int32_t *day)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if (strlen(s) != 10 || strspn(s, "0123456789") != 4 || s[4] != '-' ||
	    strspn(s + 5, "0123456789") != 2 || s[7] != '-' || strspn(s + 8, "0123456789") != 2)
		return false;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 2000 || y > 2199 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return false;
	*day = days_from_civil(y, m, d);
	return true;
}

/* "HH:MM" (00:00..24:00) into minutes, at s[0..5). */
static bool parse_hhmm(const char *s, int *min)
{
	if (strspn(s, "0123456789") < 2 || s[2] != ':' || !(s[3] >= '0' && s[3] <= '9') ||
	    !(s[4] >= '0' && s[4] <= '9'))
		return false;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');

	if (h > 24 || m > 59 || (h == 24 && m))
		return false;
	*min = h * 60 + m;
	return true;
}

static int day_index(const char *s, size_t len)
{
	for (int i = 0; i < 7; i++)
		if (len == 3 && strncmp(s, DAYS[i], 3) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------- nodes */

static int check_fields(struct ctx *c, const json_t *node, enum cc_flow_type t)
{
	const char *key;
	const json_t *v;

	json_object_foreach((json_t *)node, key, v) {
		bool known = strcmp(key, "type") == 0;

		for (const char *const *f = TYPE_FIELDS[t]; *f && !known; f++)
			known = strcmp(*f, key) == 0;
		if (!known) {
			char k[40];

			snprintf(k, sizeof(k), "%s", key);   /* a hostile key may be long */
			return fail(c, k, "a %s node has no field '%s'", TYPE_NAMES[t], k);
		}
	}
	return CC_OK;
}

static int parse_prompts(struct ctx *c, const json_t *node, struct cc_flow_node *n)
{
	const json_t *v = json_object_get(node, "prompts");
	size_t i;
	const json_t *p;

	if (!v)
		return fail(c, "prompts", "'prompts' is required for a play node");
	if (!json_is_array(v) || !json_array_size(v) || json_array_size(v) > CC_FLOW_MAX_PROMPTS)
		return fail(c, "prompts", "must be a list of 1 to %d prompt names", CC_FLOW_MAX_PROMPTS);
	n->prompts = calloc(json_array_size(v), sizeof(*n->prompts));
	CC_BUG_ON(!n->prompts);
	json_array_foreach(v, i, p) {
		char f[40];

		snprintf(f, sizeof(f), "prompts.%zu", i);
		if (!json_is_string(p) || !name_ok(json_string_value(p)))
			return fail(c, f, "a prompt name " NAME_RULE);
		snprintf(n->prompts[i], CC_FLOW_NAME_MAX, "%s", json_string_value(p));
		n->n_prompts++;
		add_distinct(&c->f->prompts, &c->f->n_prompts, n->prompts[i]);
	}
	return CC_OK;
}

/* menu and collect: the one prompt, timeout, retries and invalid prompt */
static int parse_asking(struct ctx *c, const json_t *node, struct cc_flow_node *n)
{
	const json_t *inv = json_object_get(node, "invalid");

	n->prompts = calloc(1, sizeof(*n->prompts));
	CC_BUG_ON(!n->prompts);
	if (get_name(c, node, "prompt", true, n->prompts[0]) != CC_OK)
		return CC_ERROR;
	n->n_prompts = 1;
	add_distinct(&c->f->prompts, &c->f->n_prompts, n->prompts[0]);
	if (get_int(c, node, "timeout_s", 1, 60, 5, &n->timeout_s) != CC_OK ||
	    get_int(c, node, "retries", 0, 9, 2, &n->retries) != CC_OK)
		return CC_ERROR;
	snprintf(n->invalid, sizeof(n->invalid), "invalid");
	if (inv && json_is_string(inv) && !json_string_value(inv)[0]) {
		n->invalid[0] = '\0';                    /* "": say nothing, replay */
	} else if (inv) {
		if (get_name(c, node, "invalid", false, n->invalid) != CC_OK)
			return CC_ERROR;
		add_distinct(&c->f->prompts, &c->f->n_prompts, n->invalid);
	}
	return get_ref(c, node, "default", false, &n->dflt);
}

static int parse_menu(struct ctx *c, const json_t *node, struct cc_flow_node *n)
{
	const json_t *opts = json_object_get(node, "options"), *v;
	const char *key;

	if (parse_asking(c, node, n) != CC_OK)
		return CC_ERROR;
	if (!opts)
		return fail(c, "options", "'options' is required for a menu node");
	if (!json_is_object(opts) || !json_object_size(opts))
		return fail(c, "options", "must be an object of DTMF key to node, e.g. {\"1\":\"sales\"}");
	json_object_foreach((json_t *)opts, key, v) {
		const char *at = strchr(CC_FLOW_DIGITS, key[0]);
		char f[48];
		int to;

		snprintf(f, sizeof(f), "options.%.30s", key);
		if (!key[0] || key[1] || !at)
			return fail(c, f, "a key is one of %s", CC_FLOW_DIGITS);
		if (!json_is_string(v) || !name_ok(json_string_value(v)))
			return fail(c, f, "must name a node of this flow");
		if ((to = cc_flow_node_index(c->f, json_string_value(v))) == CC_FLOW_NO_NODE)
			return fail(c, f, "no node '%s' in this flow", json_string_value(v));
		n->options[at - CC_FLOW_DIGITS] = to;
	}
	return CC_OK;
}

static int parse_collect(struct ctx *c, const json_t *node, struct cc_flow_node *n)
{
	const json_t *t = json_object_get(node, "terminator");

	if (parse_asking(c, node, n) != CC_OK || get_name(c, node, "var", true, n->var) != CC_OK ||
	    get_int(c, node, "min_digits", 1, 32, 1, &n->min_digits) != CC_OK ||
	    get_int(c, node, "max_digits", 1, 32, 32, &n->max_digits) != CC_OK)
		return CC_ERROR;
	if (n->min_digits > n->max_digits)
		return fail(c, "min_digits", "must not be more than max_digits (%d)", n->max_digits);
	n->terminator = '#';
	if (t) {
		const char *s = json_string_value(t);

		if (!s || !(strcmp(s, "#") == 0 || strcmp(s, "*") == 0 || !s[0]))
			return fail(c, "terminator", "must be \"#\", \"*\" or \"\" (none)");
		n->terminator = s[0];
	}
	return get_ref(c, node, "next", true, &n->next);
}

/* One "mon-fri": ["08:30-18:00", ...] entry of a week. */
static int parse_week_entry(struct ctx *c, struct cc_flow_node *n, const char *key, const json_t *v)
{
	const char *dash = strchr(key, '-');
	size_t len = dash ? (size_t)(dash - key) : strlen(key);
	int from = day_index(key, len), to = dash ? day_index(dash + 1, strlen(dash + 1)) : from;
	char f[64];
	size_t i;
	const json_t *s;

	snprintf(f, sizeof(f), "week.%.30s", key);
	if (from < 0 || to < 0)
		return fail(c, f, "a day is mon, tue, wed, thu, fri, sat or sun, or a range like mon-fri");
	if (to < from)
		return fail(c, f, "a range runs from the earlier day to the later (mon-fri, not fri-mon)");
	if (!json_is_array(v) || json_array_size(v) > CC_FLOW_MAX_SPANS)
		return fail(c, f, "must be a list of at most %d spans like \"08:30-18:00\"",
		            CC_FLOW_MAX_SPANS);
	json_array_foreach(v, i, s) {
		const char *t = json_string_value(s);
		int a, b;

		snprintf(f, sizeof(f), "week.%.30s.%zu", key, i);
		if (!t || strlen(t) != 11 || t[5] != '-' || !parse_hhmm(t, &a) || !parse_hhmm(t + 6, &b))
			return fail(c, f, "must be a span \"HH:MM-HH:MM\" of times 00:00 to 24:00");
		if (a >= b)
			return fail(c, f, "a span ends after it starts (\"%s\")", t);
		for (int d = from; d <= to; d++) {
			if (n->n_spans[d] == CC_FLOW_MAX_SPANS)
				return fail(c, f, "%s has more than %d spans", DAYS[d], CC_FLOW_MAX_SPANS);
			n->week[d][n->n_spans[d]++] = (struct cc_flow_span){ (uint16_t)a, (uint16_t)b };
		}
	}
	return CC_OK;
}

static int cmp_day(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

static int parse_schedule(struct ctx *c, const json_t *node, struct cc_flow_node *n)
{
	const json_t *week = json_object_get(node, "week"), *hol = json_object_get(node, "holidays");
	const json_t *v;
	const char *key;
	size_t i;

	if (get_ref(c, node, "open", true, &n->open) != CC_OK ||
	    get_ref(c, node, "closed", true, &n->closed) != CC_OK)
		return CC_ERROR;
	if (!week)
		return fail(c, "week", "'week' is required for a schedule node");
	if (!json_is_object(week))
		return fail(c, "week", "must be an object like {\"mon-fri\":[\"08:30-18:00\"]}");
	json_object_foreach((json_t *)week, key, v)
		if (parse_week_entry(c, n, key, v) != CC_OK)
			return CC_ERROR;
	if (!hol)
		return CC_OK;
	if (!json_is_array(hol) || json_array_size(hol) > CC_FLOW_MAX_HOLIDAYS)
		return fail(c, "holidays", "must be a list of at most %d dates", CC_FLOW_MAX_HOLIDAYS);
	n->holidays = calloc(json_array_size(hol) + 1, sizeof(*n->holidays));
	CC_BUG_ON(!n->holidays);
	json_array_foreach(hol, i, v) {
		char f[40];

		snprintf(f, sizeof(f), "holidays.%zu", i);
		if (!json_is_string(v) || !parse_date(json_string_value(v), &n->holidays[n->n_holidays]))
			return fail(c, f, "must be a date YYYY-MM-DD (2000 to 2199)");
		n->n_holidays++;
	}
	qsort(n->holidays, n->n_holidays, sizeof(*n->holidays), cmp_day);
	return CC_OK;
}

static int parse_agent(struct ctx *c, const json_t *node, struct cc_flow_node *n)
{
	const json_t *v = json_object_get(node, "extension");
	const char *s = json_string_value(v);

	if (!v)
		return fail(c, "extension", "'extension' is required for an agent node");
	if (!s || strlen(s) < 2 || strlen(s) > 8 || strspn(s, "0123456789") != strlen(s))
		return fail(c, "extension", "must be an extension of 2 to 8 digits");
	snprintf(n->extension, sizeof(n->extension), "%s", s);
	return get_int(c, node, "timeout_s", 1, 120, 20, &n->ring_s) != CC_OK ? CC_ERROR
	       : get_ref(c, node, "next", false, &n->next);
}

static int parse_number(struct ctx *c, const json_t *node, struct cc_flow_node *n)
{
	const json_t *v = json_object_get(node, "number");
	const char *s = json_string_value(v);
	char *why = NULL;

	if (!v)
		return fail(c, "number", "'number' is required for a number node");
	if (!s || cc_e164_valid(s, &why) != CC_OK) {
		int rc = fail(c, "number", "must be an E.164 number like +8675512345678");

		free(why);
		return rc;
	}
	snprintf(n->number, sizeof(n->number), "%s", s);
	return get_int(c, node, "timeout_s", 1, 120, 30, &n->ring_s) != CC_OK ? CC_ERROR
	       : get_ref(c, node, "next", false, &n->next);
}

/* queue: {"queue","fallback","priority":0..100,"skills":{"mandarin":3}} */
static int parse_queue(struct ctx *c, const json_t *node, struct cc_flow_node *n)
{
	const json_t *sk = json_object_get(node, "skills"), *v;
	const char *key;

	if (get_name(c, node, "queue", true, n->queue) != CC_OK ||
	    get_ref(c, node, "fallback", true, &n->fallback) != CC_OK ||
	    get_int(c, node, "priority", 0, 100, 0, &n->priority) != CC_OK)
		return CC_ERROR;
	if (!sk)
		return CC_OK;
	if (!json_is_object(sk) || json_object_size(sk) > CC_FLOW_MAX_SKILLS)
		return fail(c, "skills", "must be an object of at most %d skills like {\"mandarin\":3}",
		            CC_FLOW_MAX_SKILLS);
	json_object_foreach((json_t *)sk, key, v) {
		char f[CC_FLOW_NAME_MAX + 8];
		struct cc_flow_skill *s = &n->skills[n->n_skills];

		snprintf(f, sizeof(f), "skills.%.*s", CC_FLOW_NAME_MAX - 1, key);
		if (!name_ok(key))
			return fail(c, f, "a skill's name " NAME_RULE);
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 5)
			return fail(c, f, "must be a level from 1 to 5");
		snprintf(s->name, sizeof(s->name), "%s", key);
		s->level = (int)json_integer_value(v);
		n->n_skills++;
	}
	return CC_OK;
}

static int parse_node(struct ctx *c, const json_t *node, struct cc_flow_node *n)
{
	const json_t *t = json_object_get(node, "type");
	const json_t *ir;

	if (!json_is_object(node))
		return fail(c, NULL, "a node must be an object with a \"type\"");
	if (!t)
		return fail(c, "type", "'type' is required");
	n->type = (enum cc_flow_type)-1;
	for (size_t i = 0; json_is_string(t) && i < CC_ARRAY_LEN(TYPE_NAMES); i++)
		if (strcmp(json_string_value(t), TYPE_NAMES[i]) == 0)
			n->type = (enum cc_flow_type)i;
	if ((int)n->type < 0)
		return fail(c, "type", "must be one of play, menu, collect, schedule, agent, number, "
		            "goto, hangup, queue");
	if (check_fields(c, node, n->type) != CC_OK)
		return CC_ERROR;
	n->next = n->dflt = n->open = n->closed = n->fallback = CC_FLOW_NO_NODE;
	for (size_t i = 0; i < CC_ARRAY_LEN(n->options); i++)
		n->options[i] = CC_FLOW_NO_NODE;
	n->interruptible = true;
	switch (n->type) {
	case CC_FLOW_PLAY:
		if (parse_prompts(c, node, n) != CC_OK)
			return CC_ERROR;
		if ((ir = json_object_get(node, "interruptible")) && !json_is_boolean(ir))
			return fail(c, "interruptible", "must be true or false");
		n->interruptible = !ir || json_is_true(ir);
		return get_ref(c, node, "next", false, &n->next);
	case CC_FLOW_MENU:
		return parse_menu(c, node, n);
	case CC_FLOW_COLLECT:
		return parse_collect(c, node, n);
	case CC_FLOW_SCHEDULE:
		return parse_schedule(c, node, n);
	case CC_FLOW_AGENT:
		return parse_agent(c, node, n);
	case CC_FLOW_NUMBER:
		return parse_number(c, node, n);
	case CC_FLOW_GOTO:
		if (get_name(c, node, "flow", true, n->flow) != CC_OK)
			return CC_ERROR;
		add_distinct(&c->f->flows, &c->f->n_flows, n->flow);
		return CC_OK;
	case CC_FLOW_HANGUP:
		return CC_OK;
	case CC_FLOW_QUEUE:
		return parse_queue(c, node, n);
	}
	return CC_ERROR;
}

/* ------------------------------------------------------------- graph */

/* The nodes a node can go to, into out[]; returns how many. */
static size_t edges(const struct cc_flow_node *n, int out[24])
{
	size_t k = 0;
	int cand[] = { n->next, n->dflt, n->open, n->closed, n->fallback };

	for (size_t i = 0; i < CC_ARRAY_LEN(cand); i++)
		if (cand[i] != CC_FLOW_NO_NODE)
			out[k++] = cand[i];
	if (n->type == CC_FLOW_MENU)
		for (size_t i = 0; i < CC_ARRAY_LEN(n->options); i++)
			if (n->options[i] != CC_FLOW_NO_NODE)
				out[k++] = n->options[i];
	return k;
}

static bool waits(const struct cc_flow_node *n)
{
	return n->type == CC_FLOW_MENU || n->type == CC_FLOW_COLLECT;
}

static int check_reachable(struct ctx *c)
{
	struct cc_flow *f = c->f;
	bool *seen = calloc(f->n_nodes, 1);
	int *stack = calloc(f->n_nodes, sizeof(int)), top = 0, e[24];

	CC_BUG_ON(!seen || !stack);
	seen[f->start] = true;
	stack[top++] = f->start;
	while (top) {
		const struct cc_flow_node *n = &f->nodes[stack[--top]];
		size_t k = edges(n, e);

		for (size_t i = 0; i < k; i++)
			if (!seen[e[i]]) {
				seen[e[i]] = true;
				stack[top++] = e[i];
			}
	}
	for (size_t i = 0; i < f->n_nodes; i++)
		if (!seen[i]) {
			c->node = f->nodes[i].name;
			free(seen);
			free(stack);
			return fail(c, NULL, "node '%s' cannot be reached from start '%s'", f->nodes[i].name,
			            f->nodes[f->start].name);
		}
	free(seen);
	free(stack);
	return CC_OK;
}

/* A cycle through nodes that never wait for the caller: depth-first over
 * the non-waiting nodes, colour 1 = on the path, 2 = done. Iterative,
 * with each node's next edge to try, so a hostile chain cannot overflow
 * the C stack. */
static int check_cycles(struct ctx *c)
{
	struct cc_flow *f = c->f;
	unsigned char *colour = calloc(f->n_nodes, 1);
	int *path = calloc(f->n_nodes, sizeof(int));
	size_t *next_edge = calloc(f->n_nodes, sizeof(size_t));
	int rc = CC_OK;

	CC_BUG_ON(!colour || !path || !next_edge);
	for (size_t root = 0; root < f->n_nodes && rc == CC_OK; root++) {
		int depth = 0;

		if (colour[root] || waits(&f->nodes[root]))
			continue;
		path[depth++] = (int)root;
		colour[root] = 1;
		while (depth && rc == CC_OK) {
			int at = path[depth - 1], e[24];
			size_t k = edges(&f->nodes[at], e);

			if (next_edge[at] == k) {
				colour[at] = 2;
				depth--;
				continue;
			}
			int to = e[next_edge[at]++];

			if (waits(&f->nodes[to]) || colour[to] == 2)
				continue;
			if (colour[to] == 1) {
				c->node = f->nodes[to].name;
				rc = fail(c, NULL, "node '%s' is on a loop (back from '%s') that passes no menu "
				          "or collect node: a caller would go round it forever",
				          f->nodes[to].name, f->nodes[at].name);
				break;
			}
			colour[to] = 1;
			path[depth++] = to;
		}
	}
	free(colour);
	free(path);
	free(next_edge);
	return rc;
}

/* ------------------------------------------------------------- the API */

int cc_flow_node_index(const struct cc_flow *f, const char *name)
{
	for (size_t i = 0; i < f->n_nodes; i++)
		if (strcmp(f->nodes[i].name, name) == 0)
			return (int)i;
	return CC_FLOW_NO_NODE;
}

int cc_flow_parse(const json_t *doc, struct cc_flow **out, struct cc_flow_error *err)
{
	struct cc_flow *f = calloc(1, sizeof(*f));
	struct ctx c = { .f = f, .err = err };
	const json_t *start, *v;
	const char *key;
	size_t i = 0;

	CC_BUG_ON(!f);
	*out = NULL;
	memset(err, 0, sizeof(*err));
	if (!json_is_object(doc)) {
		fail(&c, "", "a flow is a JSON object {\"start\":..., \"nodes\":{...}}");
		goto refused;
	}
	json_object_foreach((json_t *)doc, key, v)
		if (strcmp(key, "start") != 0 && strcmp(key, "nodes") != 0) {
			char k[40];

			snprintf(k, sizeof(k), "%s", key);
			fail(&c, k, "a flow has only 'start' and 'nodes'");
			goto refused;
		}
	c.nodes = json_object_get(doc, "nodes");
	if (!c.nodes || !json_is_object(c.nodes) || !json_object_size(c.nodes)) {
		fail(&c, "nodes", "'nodes' is required: an object of node name to node");
		goto refused;
	}
	if (json_object_size(c.nodes) > CC_FLOW_MAX_NODES) {
		fail(&c, "nodes", "a flow has at most %d nodes (this one has %zu)", CC_FLOW_MAX_NODES,
		     json_object_size(c.nodes));
		goto refused;
	}
	f->nodes = calloc(json_object_size(c.nodes), sizeof(*f->nodes));
	CC_BUG_ON(!f->nodes);
	/* names first, so any node may refer to any other */
	json_object_foreach((json_t *)c.nodes, key, v) {
		if (!name_ok(key)) {
			char k[80];

			snprintf(k, sizeof(k), "nodes.%.63s", key);
			fail(&c, k, "a node name " NAME_RULE);
			goto refused;
		}
		snprintf(f->nodes[f->n_nodes++].name, CC_FLOW_NAME_MAX, "%s", key);
	}
	start = json_object_get(doc, "start");
	if (!start || !json_is_string(start)) {
		fail(&c, "start", "'start' is required: the name of the first node");
		goto refused;
	}
	if ((f->start = cc_flow_node_index(f, json_string_value(start))) == CC_FLOW_NO_NODE) {
		fail(&c, "start", "no node '%.63s' in this flow", json_string_value(start));
		goto refused;
	}
	json_object_foreach((json_t *)c.nodes, key, v) {
		c.node = f->nodes[i].name;
		if (parse_node(&c, v, &f->nodes[i]) != CC_OK)
			goto refused;
		i++;
	}
	c.node = NULL;
	if (check_reachable(&c) != CC_OK || check_cycles(&c) != CC_OK)
		goto refused;
	*out = f;
	return CC_OK;
refused:
	cc_flow_free(f);
	return CC_ERROR;
}

void cc_flow_free(struct cc_flow *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_nodes; i++) {
		free(f->nodes[i].prompts);
		free(f->nodes[i].holidays);
	}
	free(f->nodes);
	free(f->prompts);
	free(f->flows);
	free(f);
}

/* ------------------------------------------------------------- time */

bool cc_flow_schedule_open(const struct cc_flow_node *n, int wday, int minute, int32_t day)
{
	if (wday < 0 || wday > 6)
		return false;
	if (n->n_holidays && bsearch(&day, n->holidays, n->n_holidays, sizeof(*n->holidays), cmp_day))
		return false;
	for (size_t i = 0; i < n->n_spans[wday]; i++)
		if (minute >= n->week[wday][i].from && minute < n->week[wday][i].to)
			return true;
	return false;
}

/* An IANA zone name the system has: the form of one ("Asia/Shanghai",
 * "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+8") and its file. glibc
 * takes any unknown TZ as UTC without a word, so the file is the test. */
static bool zone_known(const char *tz)
{
	const char *dir = getenv("TZDIR");
	char path[512];
	size_t n = strlen(tz);

	if (!n || n > 64 || tz[0] == '/' || tz[0] == '.' || strstr(tz, "..") ||
	    strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") != n)
		return false;
	snprintf(path, sizeof(path), "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", tz);
	return access(path, R_OK) == 0;
}

int cc_flow_local_time(time_t t, const char *tz, int *wday, int *minute, int32_t *day)
{
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;
	struct tm tm;
	bool ok;

	if (!tz || !zone_known(tz)) {
		free(saved);
		return CC_ERROR;
	}
	setenv("TZ", tz, 1);
	tzset();
	ok = localtime_r(&t, &tm) != NULL;
	/* never unsetenv: it moves environ's entries under the feet of any
	 * thread in getenv (libpq's, libnats'); setenv of a variable that is
	 * there swaps one pointer (glibc keeps every value it set). A process
	 * that starts without TZ keeps the last zone (mediad sets TZ at start,
	 * before its threads, so it never gets here without one). */
	if (saved)
		setenv("TZ", saved, 1);
	tzset();
	free(saved);
	if (!ok)
		return CC_ERROR;
	*wday = (tm.tm_wday + 6) % 7;
	*minute = tm.tm_hour * 60 + tm.tm_min;
	*day = days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	return CC_OK;
}
