/* Unit tests of lib/flow.c: the flow language (docs/FLOWS.md). The
 * issue's example and the source documents' menu parse; every refusal
 * names its field; schedules open and close at their boundaries, on
 * holidays and in the tenant's zone. */
#define SUITE "flow"
#include "test.h"

#include "cc.h"
#include "flow.h"
#include "flow_example.h"

/* "Welcome to ... service center. For repair appointments press 1,
 * insurance claims 2, roadside rescue 3, owners club 5, complaints and
 * suggestions 6, an agent 0." */
static const char SERVICE_CENTER[] =
	"{\"start\":\"welcome\",\"nodes\":{"
	"\"welcome\":{\"type\":\"menu\",\"prompt\":\"service_center\",\"options\":{"
	"\"1\":\"repair\",\"2\":\"claims\",\"3\":\"rescue\",\"5\":\"owners\",\"6\":\"complaints\","
	"\"0\":\"agent\"},\"default\":\"agent\"},"
	"\"repair\":{\"type\":\"agent\",\"extension\":\"1001\",\"next\":\"agent\"},"
	"\"claims\":{\"type\":\"agent\",\"extension\":\"1002\",\"next\":\"agent\"},"
	"\"rescue\":{\"type\":\"number\",\"number\":\"+8675512345678\",\"next\":\"agent\"},"
	"\"owners\":{\"type\":\"goto\",\"flow\":\"owners-club\"},"
	"\"complaints\":{\"type\":\"collect\",\"prompt\":\"order_no\",\"var\":\"order\","
	"\"min_digits\":4,\"max_digits\":12,\"next\":\"agent\",\"default\":\"agent\"},"
	"\"agent\":{\"type\":\"queue\",\"queue\":\"service\",\"fallback\":\"desk\"},"
	"\"desk\":{\"type\":\"agent\",\"extension\":\"1000\"}}}";

static struct cc_flow *parse_ok(const char *text)
{
	json_error_t je;
	json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	struct cc_flow *f = NULL;
	struct cc_flow_error err;

	if (!doc)
		FAILF("bad test JSON: %s at %d:%d", je.text, je.line, je.column);
	if (cc_flow_parse(doc, &f, &err) != CC_OK)
		FAILF("refused: %s: %s", err.field, err.message);
	json_decref(doc);
	return f;
}

/* Refused, naming field; the message holds `why`. */
static void refused(const char *text, const char *field, const char *why)
{
	json_error_t je;
	json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	struct cc_flow *f = (struct cc_flow *)1;
	struct cc_flow_error err;

	if (!doc)
		FAILF("bad test JSON: %s at %d:%d: %s", je.text, je.line, je.column, text);
	if (cc_flow_parse(doc, &f, &err) == CC_OK)
		FAILF("accepted: %s", text);
	ASSERT(f == NULL);
	if (strcmp(err.field, field) != 0)
		FAILF("field \"%s\" != \"%s\" (%s) for %s", err.field, field, err.message, text);
	if (why && !strstr(err.message, why))
		FAILF("message \"%s\" lacks \"%s\"", err.message, why);
	json_decref(doc);
}

/* A one-menu flow around a node under test called "x". */
#define WRAP(x) "{\"start\":\"m\",\"nodes\":{\"m\":{\"type\":\"menu\",\"prompt\":\"p\"," \
	"\"options\":{\"1\":\"x\",\"9\":\"h\"}},\"x\":" x ",\"h\":{\"type\":\"hangup\"}}}"

TEST(example_parses)
{
	struct cc_flow *f = parse_ok(flow_example);
	const struct cc_flow_node *w, *h;

	ASSERT_EQ_INT(f->n_nodes, 7);
	ASSERT_EQ_STR(f->nodes[f->start].name, "hours");
	w = &f->nodes[cc_flow_node_index(f, "welcome")];
	ASSERT_EQ_INT(w->type, CC_FLOW_MENU);
	ASSERT_EQ_INT(w->timeout_s, 5);
	ASSERT_EQ_INT(w->retries, 2);
	ASSERT_EQ_STR(w->invalid, "invalid");
	ASSERT_EQ_INT(w->options[1], cc_flow_node_index(f, "repair"));
	ASSERT_EQ_INT(w->options[2], cc_flow_node_index(f, "claims_info"));
	ASSERT_EQ_INT(w->options[0], cc_flow_node_index(f, "desk"));
	ASSERT_EQ_INT(w->options[3], CC_FLOW_NO_NODE);
	ASSERT_EQ_INT(w->dflt, cc_flow_node_index(f, "desk"));
	h = &f->nodes[f->start];
	ASSERT_EQ_INT(h->n_spans[0], 1);
	ASSERT_EQ_INT(h->n_spans[4], 1);
	ASSERT_EQ_INT(h->n_spans[5], 1);
	ASSERT_EQ_INT(h->n_spans[6], 0);
	ASSERT_EQ_INT(h->week[0][0].from, 8 * 60 + 30);
	ASSERT_EQ_INT(h->week[0][0].to, 18 * 60);
	ASSERT_EQ_INT(h->n_holidays, 2);
	ASSERT_EQ_INT(f->nodes[cc_flow_node_index(f, "repair")].ring_s, 20);
	ASSERT_EQ_INT(f->nodes[cc_flow_node_index(f, "desk")].next, CC_FLOW_NO_NODE);
	ASSERT_EQ_STR(f->nodes[cc_flow_node_index(f, "desk")].extension, "1000");
	/* distinct prompts: welcome, invalid (named), claims, closed */
	ASSERT_EQ_INT(f->n_prompts, 4);
	ASSERT_EQ_INT(f->n_flows, 0);
	ASSERT(strcmp(cc_flow_type_name(CC_FLOW_QUEUE), "queue") == 0);
	ASSERT(cc_flow_type_name((enum cc_flow_type)42) == NULL);
	cc_flow_free(f);
}

TEST(service_center_menu_parses)
{
	struct cc_flow *f = parse_ok(SERVICE_CENTER);
	const struct cc_flow_node *w = &f->nodes[f->start], *c;

	ASSERT_EQ_INT(w->options[5], cc_flow_node_index(f, "owners"));
	ASSERT_EQ_INT(w->options[6], cc_flow_node_index(f, "complaints"));
	ASSERT_EQ_INT(w->options[4], CC_FLOW_NO_NODE);
	ASSERT_EQ_INT(f->n_flows, 1);
	ASSERT_EQ_STR(f->flows[0], "owners-club");
	c = &f->nodes[cc_flow_node_index(f, "complaints")];
	ASSERT_EQ_STR(c->var, "order");
	ASSERT_EQ_INT(c->min_digits, 4);
	ASSERT_EQ_INT(c->max_digits, 12);
	ASSERT_EQ_INT(c->terminator, '#');
	ASSERT_EQ_INT(f->nodes[cc_flow_node_index(f, "rescue")].ring_s, 30);
	ASSERT_EQ_STR(f->nodes[cc_flow_node_index(f, "agent")].queue, "service");
	cc_flow_free(f);
}

TEST(defaults)
{
	struct cc_flow *f = parse_ok(WRAP("{\"type\":\"play\",\"prompts\":[\"a\",\"b\"]}"));
	const struct cc_flow_node *m = &f->nodes[0], *x = &f->nodes[1];

	ASSERT_EQ_INT(m->timeout_s, 5);
	ASSERT_EQ_INT(m->retries, 2);
	ASSERT_EQ_STR(m->invalid, "invalid");
	ASSERT_EQ_INT(m->dflt, CC_FLOW_NO_NODE);
	ASSERT(x->interruptible);
	ASSERT_EQ_INT(x->n_prompts, 2);
	ASSERT_EQ_INT(x->next, CC_FLOW_NO_NODE);
	cc_flow_free(f);
	/* "invalid": "" says nothing before the replay */
	f = parse_ok("{\"start\":\"m\",\"nodes\":{\"m\":{\"type\":\"menu\",\"prompt\":\"p\","
	             "\"invalid\":\"\",\"options\":{\"#\":\"m\"}}}}");
	ASSERT_EQ_STR(f->nodes[0].invalid, "");
	ASSERT_EQ_INT(f->nodes[0].options[11], 0);   /* '#' menu to itself: it waits, fine */
	cc_flow_free(f);
}

TEST(refuses_document_shape)
{
	refused("[]", "", "JSON object");
	refused("{\"nodes\":{\"a\":{\"type\":\"hangup\"}}}", "start", "required");
	refused("{\"start\":\"a\"}", "nodes", "required");
	refused("{\"start\":\"a\",\"nodes\":{}}", "nodes", "required");
	refused("{\"start\":\"a\",\"nodes\":[]}", "nodes", NULL);
	refused("{\"start\":\"b\",\"nodes\":{\"a\":{\"type\":\"hangup\"}}}", "start", "no node 'b'");
	refused("{\"start\":\"a\",\"nodes\":{\"a\":{\"type\":\"hangup\"}},\"x\":1}", "x", "only");
	refused("{\"start\":\"a\",\"nodes\":{\"A\":{\"type\":\"hangup\"}}}", "nodes.A", "node name");
	refused("{\"start\":\"a\",\"nodes\":{\"a\":7}}", "nodes.a", "object");
}

TEST(refuses_unknown_type_and_field)
{
	refused(WRAP("{\"type\":\"dance\"}"), "nodes.x.type", "one of");
	refused(WRAP("{\"prompts\":[\"a\"]}"), "nodes.x.type", "required");
	refused(WRAP("{\"type\":7}"), "nodes.x.type", "one of");
	refused(WRAP("{\"type\":\"play\",\"prompts\":[\"a\"],\"timeout_s\":3}"), "nodes.x.timeout_s",
	        "no field");
	refused(WRAP("{\"type\":\"hangup\",\"next\":\"m\"}"), "nodes.x.next", "no field");
}

TEST(refuses_missing_fields)
{
	refused(WRAP("{\"type\":\"play\"}"), "nodes.x.prompts", "required");
	refused(WRAP("{\"type\":\"play\",\"prompts\":[]}"), "nodes.x.prompts", "1 to 16");
	refused(WRAP("{\"type\":\"play\",\"prompts\":[\"ok\",\"Bad Name\"]}"), "nodes.x.prompts.1",
	        "prompt name");
	refused(WRAP("{\"type\":\"menu\",\"options\":{\"1\":\"h\"}}"), "nodes.x.prompt", "required");
	refused(WRAP("{\"type\":\"menu\",\"prompt\":\"p\"}"), "nodes.x.options", "required");
	refused(WRAP("{\"type\":\"menu\",\"prompt\":\"p\",\"options\":{}}"), "nodes.x.options", NULL);
	refused(WRAP("{\"type\":\"collect\",\"prompt\":\"p\",\"next\":\"h\"}"), "nodes.x.var",
	        "required");
	refused(WRAP("{\"type\":\"collect\",\"prompt\":\"p\",\"var\":\"v\"}"), "nodes.x.next",
	        "required");
	refused(WRAP("{\"type\":\"schedule\",\"closed\":\"h\",\"week\":{}}"), "nodes.x.open",
	        "required");
	refused(WRAP("{\"type\":\"schedule\",\"open\":\"h\",\"closed\":\"h\"}"), "nodes.x.week",
	        "required");
	refused(WRAP("{\"type\":\"agent\"}"), "nodes.x.extension", "required");
	refused(WRAP("{\"type\":\"number\"}"), "nodes.x.number", "required");
	refused(WRAP("{\"type\":\"goto\"}"), "nodes.x.flow", "required");
	refused(WRAP("{\"type\":\"queue\",\"queue\":\"q\"}"), "nodes.x.fallback", "required");
	refused(WRAP("{\"type\":\"queue\",\"fallback\":\"h\"}"), "nodes.x.queue", "required");
}

TEST(refuses_unknown_node)
{
	refused(WRAP("{\"type\":\"play\",\"prompts\":[\"a\"],\"next\":\"nowhere\"}"), "nodes.x.next",
	        "no node 'nowhere'");
	refused("{\"start\":\"m\",\"nodes\":{\"m\":{\"type\":\"menu\",\"prompt\":\"p\","
	        "\"options\":{\"1\":\"repair2\"}}}}", "nodes.m.options.1", "no node 'repair2'");
	refused(WRAP("{\"type\":\"menu\",\"prompt\":\"p\",\"options\":{\"1\":\"h\"},\"default\":\"z\"}"),
	        "nodes.x.default", "no node 'z'");
	refused(WRAP("{\"type\":\"schedule\",\"open\":\"h\",\"closed\":\"zz\",\"week\":{}}"),
	        "nodes.x.closed", "no node");
	refused(WRAP("{\"type\":\"queue\",\"queue\":\"q\",\"fallback\":\"y\"}"), "nodes.x.fallback",
	        "no node");
}

TEST(refuses_menu_key_not_dtmf)
{
	refused("{\"start\":\"welcome\",\"nodes\":{\"welcome\":{\"type\":\"menu\",\"prompt\":\"p\","
	        "\"options\":{\"x\":\"welcome\"}}}}", "nodes.welcome.options.x", "0123456789*#ABCD");
	refused(WRAP("{\"type\":\"menu\",\"prompt\":\"p\",\"options\":{\"12\":\"h\"}}"),
	        "nodes.x.options.12", "key");
	refused(WRAP("{\"type\":\"menu\",\"prompt\":\"p\",\"options\":{\"\":\"h\"}}"),
	        "nodes.x.options.", "key");
	refused(WRAP("{\"type\":\"menu\",\"prompt\":\"p\",\"options\":{\"a\":\"h\"}}"),
	        "nodes.x.options.a", "key");
	refused(WRAP("{\"type\":\"menu\",\"prompt\":\"p\",\"options\":{\"1\":5}}"),
	        "nodes.x.options.1", "name a node");
}

TEST(refuses_bad_values)
{
	refused(WRAP("{\"type\":\"menu\",\"prompt\":\"p\",\"options\":{\"1\":\"h\"},\"timeout_s\":0}"),
	        "nodes.x.timeout_s", "1 to 60");
	refused(WRAP("{\"type\":\"menu\",\"prompt\":\"p\",\"options\":{\"1\":\"h\"},\"retries\":10}"),
	        "nodes.x.retries", "0 to 9");
	refused(WRAP("{\"type\":\"menu\",\"prompt\":\"p\",\"options\":{\"1\":\"h\"},\"retries\":\"2\"}"),
	        "nodes.x.retries", "integer");
	refused(WRAP("{\"type\":\"menu\",\"prompt\":\"P\",\"options\":{\"1\":\"h\"}}"),
	        "nodes.x.prompt", "must be 1 to 63");
	refused(WRAP("{\"type\":\"menu\",\"prompt\":\"p\",\"options\":{\"1\":\"h\"},\"invalid\":3}"),
	        "nodes.x.invalid", "string");
	refused(WRAP("{\"type\":\"collect\",\"prompt\":\"p\",\"var\":\"v\",\"next\":\"h\","
	             "\"min_digits\":5,\"max_digits\":4}"), "nodes.x.min_digits", "max_digits");
	refused(WRAP("{\"type\":\"collect\",\"prompt\":\"p\",\"var\":\"v\",\"next\":\"h\","
	             "\"max_digits\":33}"), "nodes.x.max_digits", "1 to 32");
	refused(WRAP("{\"type\":\"collect\",\"prompt\":\"p\",\"var\":\"v\",\"next\":\"h\","
	             "\"terminator\":\"5\"}"), "nodes.x.terminator", "#");
	refused(WRAP("{\"type\":\"play\",\"prompts\":[\"a\"],\"interruptible\":\"no\"}"),
	        "nodes.x.interruptible", "true or false");
	refused(WRAP("{\"type\":\"agent\",\"extension\":\"1\"}"), "nodes.x.extension", "2 to 8");
	refused(WRAP("{\"type\":\"agent\",\"extension\":\"10a1\"}"), "nodes.x.extension", "digits");
	refused(WRAP("{\"type\":\"agent\",\"extension\":\"1001\",\"timeout_s\":121}"),
	        "nodes.x.timeout_s", "1 to 120");
	refused(WRAP("{\"type\":\"number\",\"number\":\"8675512345678\"}"), "nodes.x.number", "E.164");
	refused(WRAP("{\"type\":\"goto\",\"flow\":\"../etc\"}"), "nodes.x.flow", "must be");
}

TEST(refuses_schedule_times_days_holidays)
{
#define SCHED(week, extra) WRAP("{\"type\":\"schedule\",\"open\":\"h\",\"closed\":\"h\"," \
	"\"week\":" week extra "}")
	refused(SCHED("{\"mon-fri\":[\"08:30-25:00\"]}", ""), "nodes.x.week.mon-fri.0", "HH:MM");
	refused(SCHED("{\"mon\":[\"25:00-26:00\"]}", ""), "nodes.x.week.mon.0", "HH:MM");
	refused(SCHED("{\"mon\":[\"09:00-12:00\",\"08:60-09:00\"]}", ""), "nodes.x.week.mon.1", NULL);
	refused(SCHED("{\"mon\":[\"24:01-24:30\"]}", ""), "nodes.x.week.mon.0", NULL);
	refused(SCHED("{\"mon\":[\"9:00-12:00\"]}", ""), "nodes.x.week.mon.0", NULL);
	refused(SCHED("{\"mon\":[\"12:00-09:00\"]}", ""), "nodes.x.week.mon.0", "ends after");
	refused(SCHED("{\"mon\":[\"12:00-12:00\"]}", ""), "nodes.x.week.mon.0", "ends after");
	refused(SCHED("{\"mon\":\"09:00-12:00\"}", ""), "nodes.x.week.mon", "list");
	refused(SCHED("{\"monday\":[\"09:00-12:00\"]}", ""), "nodes.x.week.monday", "mon, tue");
	refused(SCHED("{\"Mon\":[]}", ""), "nodes.x.week.Mon", "mon, tue");
	refused(SCHED("{\"mon-xyz\":[]}", ""), "nodes.x.week.mon-xyz", "range");
	refused(SCHED("{\"fri-mon\":[]}", ""), "nodes.x.week.fri-mon", "earlier day");
	refused(SCHED("{\"mon-\":[]}", ""), "nodes.x.week.mon-", NULL);
	refused(SCHED("{\"mon\":[\"00:00-01:00\",\"01:00-02:00\",\"02:00-03:00\",\"03:00-04:00\","
	              "\"04:00-05:00\",\"05:00-06:00\",\"06:00-07:00\",\"07:00-08:00\",\"08:00-09:00\"]}",
	              ""), "nodes.x.week.mon", "at most 8");
	refused(SCHED("{\"mon-fri\":[\"00:00-01:00\",\"01:00-02:00\",\"02:00-03:00\",\"03:00-04:00\","
	              "\"04:00-05:00\",\"05:00-06:00\",\"06:00-07:00\",\"07:00-08:00\"],"
	              "\"wed\":[\"09:00-10:00\"]}", ""), "nodes.x.week.wed.0", "more than 8");
	refused(SCHED("{}", ",\"holidays\":[\"2026-13-01\"]"), "nodes.x.holidays.0", "YYYY-MM-DD");
	refused(SCHED("{}", ",\"holidays\":[\"2026-10-01\",\"2027-02-29\"]"), "nodes.x.holidays.1",
	        "date");
	refused(SCHED("{}", ",\"holidays\":[\"2026-04-31\"]"), "nodes.x.holidays.0", NULL);
	refused(SCHED("{}", ",\"holidays\":[\"1 Oct\"]"), "nodes.x.holidays.0", NULL);
	refused(SCHED("{}", ",\"holidays\":[20261001]"), "nodes.x.holidays.0", NULL);
	refused(SCHED("{}", ",\"holidays\":\"2026-10-01\""), "nodes.x.holidays", "list");
	/* 24:00 ends a day; 2028-02-29 is a date */
	cc_flow_free(parse_ok(SCHED("{\"sun\":[\"20:00-24:00\"]}", ",\"holidays\":[\"2028-02-29\"]")));
#undef SCHED
}

TEST(refuses_unreachable_node)
{
	refused("{\"start\":\"a\",\"nodes\":{\"a\":{\"type\":\"hangup\"},"
	        "\"orphan\":{\"type\":\"play\",\"prompts\":[\"p\"],\"next\":\"a\"}}}",
	        "nodes.orphan", "cannot be reached");
}

TEST(refuses_loop_that_never_waits)
{
	/* play -> play */
	refused("{\"start\":\"a\",\"nodes\":{\"a\":{\"type\":\"play\",\"prompts\":[\"p\"],\"next\":\"b\"},"
	        "\"b\":{\"type\":\"play\",\"prompts\":[\"p\"],\"next\":\"a\"}}}", "nodes.a", "loop");
	/* a play to itself */
	refused("{\"start\":\"a\",\"nodes\":{\"a\":{\"type\":\"play\",\"prompts\":[\"p\"],"
	        "\"next\":\"a\"}}}", "nodes.a", "loop");
	/* schedule -> agent -> queue -> schedule, behind a menu */
	refused(WRAP("{\"type\":\"schedule\",\"open\":\"y\",\"closed\":\"h\",\"week\":{}},"
	             "\"y\":{\"type\":\"agent\",\"extension\":\"1000\",\"next\":\"z\"},"
	             "\"z\":{\"type\":\"queue\",\"queue\":\"q\",\"fallback\":\"x\"}"), "nodes.x", "loop");
	/* through a menu: fine (the caller chooses) */
	cc_flow_free(parse_ok(WRAP("{\"type\":\"play\",\"prompts\":[\"p\"],\"next\":\"m\"}")));
}

TEST(refuses_too_many_nodes)
{
	char *doc = malloc(64 * (CC_FLOW_MAX_NODES + 2)), *p = doc;

	p += sprintf(p, "{\"start\":\"n0\",\"nodes\":{");
	for (int i = 0; i <= CC_FLOW_MAX_NODES; i++)
		p += sprintf(p, "%s\"n%d\":{\"type\":\"hangup\"}", i ? "," : "", i);
	sprintf(p, "}}");
	refused(doc, "nodes", "at most 200");
	free(doc);
}

TEST(schedule_boundaries)
{
	struct cc_flow *f = parse_ok(flow_example);
	const struct cc_flow_node *h = &f->nodes[f->start];
	int32_t wed = 20425;   /* 2025-12-03, a Wednesday; any non-holiday day */
	int32_t oct1 = 20727;  /* 2026-10-01, a Thursday and a holiday */

	ASSERT(!cc_flow_schedule_open(h, 2, 8 * 60 + 29, wed));
	ASSERT(cc_flow_schedule_open(h, 2, 8 * 60 + 30, wed));
	ASSERT(cc_flow_schedule_open(h, 2, 17 * 60 + 59, wed));
	ASSERT(!cc_flow_schedule_open(h, 2, 18 * 60, wed));
	ASSERT(!cc_flow_schedule_open(h, 3, 10 * 60, oct1));       /* holiday */
	ASSERT(cc_flow_schedule_open(h, 3, 10 * 60, oct1 - 1));
	ASSERT(cc_flow_schedule_open(h, 4, 10 * 60, oct1 + 2));    /* 10-03: not listed */
	ASSERT(!cc_flow_schedule_open(h, 5, 8 * 60 + 59, wed));    /* Saturday 09:00-12:00 */
	ASSERT(cc_flow_schedule_open(h, 5, 9 * 60, wed));
	ASSERT(cc_flow_schedule_open(h, 5, 11 * 60 + 59, wed));
	ASSERT(!cc_flow_schedule_open(h, 5, 12 * 60, wed));
	ASSERT(!cc_flow_schedule_open(h, 6, 10 * 60, wed));        /* Sunday: no span */
	ASSERT(!cc_flow_schedule_open(h, 7, 10 * 60, wed));        /* no such day */
	ASSERT(!cc_flow_schedule_open(h, -1, 10 * 60, wed));
	cc_flow_free(f);
}

TEST(local_time_zones)
{
	struct tm tm = { .tm_year = 2026 - 1900, .tm_mon = 11, .tm_mday = 2, .tm_hour = 0,
	                 .tm_min = 30 };
	time_t t = timegm(&tm);    /* Wednesday 2026-12-02 00:30 UTC = 08:30 in Shanghai */
	struct cc_flow *f = parse_ok(flow_example);
	const struct cc_flow_node *h = &f->nodes[f->start];
	int wday, minute;
	int32_t day;

	setenv("TZ", "Europe/Paris", 1);
	ASSERT_EQ_INT(cc_flow_local_time(t, "Asia/Shanghai", &wday, &minute, &day), CC_OK);
	ASSERT_EQ_INT(wday, 2);
	ASSERT_EQ_INT(minute, 8 * 60 + 30);
	ASSERT(cc_flow_schedule_open(h, wday, minute, day));
	ASSERT_EQ_INT(cc_flow_local_time(t - 60, "Asia/Shanghai", &wday, &minute, &day), CC_OK);
	ASSERT(!cc_flow_schedule_open(h, wday, minute, day));    /* 08:29 there */
	ASSERT_EQ_INT(cc_flow_local_time(t, "UTC", &wday, &minute, &day), CC_OK);
	ASSERT_EQ_INT(minute, 30);
	ASSERT(!cc_flow_schedule_open(h, wday, minute, day));
	ASSERT_EQ_STR(getenv("TZ"), "Europe/Paris");             /* put back */
	/* DST: 12:30 UTC is 08:30 in New York in July (EDT), 07:30 in December (EST) */
	ASSERT_EQ_INT(cc_flow_local_time(t + 12 * 3600, "America/New_York", &wday, &minute, &day), CC_OK);
	ASSERT_EQ_INT(minute, 7 * 60 + 30);
	tm = (struct tm){ .tm_year = 2026 - 1900, .tm_mon = 6, .tm_mday = 1, .tm_hour = 12,
	                  .tm_min = 30 };
	ASSERT_EQ_INT(cc_flow_local_time(timegm(&tm), "America/New_York", &wday, &minute, &day), CC_OK);
	ASSERT_EQ_INT(minute, 8 * 60 + 30);
	ASSERT_EQ_INT(wday, 2);  /* 2026-07-01 is a Wednesday */
	/* the holiday is the local date: 2026-09-30 16:30 UTC is Oct 1st 00:30 in Shanghai */
	tm = (struct tm){ .tm_year = 2026 - 1900, .tm_mon = 8, .tm_mday = 30, .tm_hour = 16,
	                  .tm_min = 30 };
	ASSERT_EQ_INT(cc_flow_local_time(timegm(&tm), "Asia/Shanghai", &wday, &minute, &day), CC_OK);
	ASSERT_EQ_INT(day, 20727);
	ASSERT_EQ_INT(wday, 3);
	unsetenv("TZ");
	ASSERT_EQ_INT(cc_flow_local_time(t, "Mars/Olympus", &wday, &minute, &day), CC_ERROR);
	ASSERT_EQ_INT(cc_flow_local_time(t, "../../etc/passwd", &wday, &minute, &day), CC_ERROR);
	ASSERT_EQ_INT(cc_flow_local_time(t, "", &wday, &minute, &day), CC_ERROR);
	ASSERT_EQ_INT(cc_flow_local_time(t, NULL, &wday, &minute, &day), CC_ERROR);
	ASSERT(getenv("TZ") == NULL);
	cc_flow_free(f);
}

/* The ACD's queue node (issue 14): its caller's priority and skills. */
TEST(queue_node_skills_priority)
{
	struct cc_flow *f = parse_ok(WRAP("{\"type\":\"queue\",\"queue\":\"repair\",\"fallback\":\"h\","
	                                  "\"skills\":{\"mandarin\":3,\"repair\":5},\"priority\":5}"));
	const struct cc_flow_node *n = &f->nodes[cc_flow_node_index(f, "x")];

	ASSERT_EQ_STR(n->queue, "repair");
	ASSERT_EQ_INT(n->priority, 5);
	ASSERT_EQ_INT((int)n->n_skills, 2);
	ASSERT_EQ_STR(n->skills[0].name, "mandarin");
	ASSERT_EQ_INT(n->skills[0].level, 3);
	ASSERT_EQ_INT(n->skills[1].level, 5);
	cc_flow_free(f);
	f = parse_ok(WRAP("{\"type\":\"queue\",\"queue\":\"repair\",\"fallback\":\"h\"}"));
	n = &f->nodes[cc_flow_node_index(f, "x")];
	ASSERT_EQ_INT(n->priority, 0);
	ASSERT_EQ_INT((int)n->n_skills, 0);
	cc_flow_free(f);
	refused(WRAP("{\"type\":\"queue\",\"queue\":\"q\",\"fallback\":\"h\",\"priority\":101}"),
	        "nodes.x.priority", "0 to 100");
	refused(WRAP("{\"type\":\"queue\",\"queue\":\"q\",\"fallback\":\"h\",\"priority\":-1}"),
	        "nodes.x.priority", "0 to 100");
	refused(WRAP("{\"type\":\"queue\",\"queue\":\"q\",\"fallback\":\"h\",\"skills\":[1]}"),
	        "nodes.x.skills", "object");
	refused(WRAP("{\"type\":\"queue\",\"queue\":\"q\",\"fallback\":\"h\",\"skills\":{\"a\":7}}"),
	        "nodes.x.skills.a", "1 to 5");
	refused(WRAP("{\"type\":\"queue\",\"queue\":\"q\",\"fallback\":\"h\",\"skills\":{\"a\":0}}"),
	        "nodes.x.skills.a", "1 to 5");
	refused(WRAP("{\"type\":\"queue\",\"queue\":\"q\",\"fallback\":\"h\",\"skills\":{\"a\":\"3\"}}"),
	        "nodes.x.skills.a", "1 to 5");
	refused(WRAP("{\"type\":\"queue\",\"queue\":\"q\",\"fallback\":\"h\",\"skills\":{\"A b\":3}}"),
	        "nodes.x.skills.A b", "must be 1 to 63");
	refused(WRAP("{\"type\":\"queue\",\"queue\":\"q\",\"fallback\":\"h\",\"skills\":{"
	             "\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1}}"),
	        "nodes.x.skills", "at most 8");
	refused(WRAP("{\"type\":\"queue\",\"queue\":\"q\",\"fallback\":\"h\",\"ring_s\":3}"),
	        "nodes.x.ring_s", NULL);
}

TEST_LIST(T(example_parses), T(queue_node_skills_priority), T(service_center_menu_parses), T(defaults), T(refuses_document_shape),
          T(refuses_unknown_type_and_field), T(refuses_missing_fields), T(refuses_unknown_node),
          T(refuses_menu_key_not_dtmf), T(refuses_bad_values),
          T(refuses_schedule_times_days_holidays), T(refuses_unreachable_node),
          T(refuses_loop_that_never_waits), T(refuses_too_many_nodes), T(schedule_boundaries),
          T(local_time_zones))
