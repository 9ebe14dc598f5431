/*
 * flow.h: a tenant's IVR flow, the JSON graph of docs/FLOWS.md, parsed and
 * checked in one place. tenantd parses every PUT with it (a 422 names the
 * node and field), stores the body, and mediad parses the stored body again
 * to run it (media/ivr.h). Pure: no I/O, no clock, no globals.
 *
 * A parsed flow is immutable and owned by whoever parsed it; names inside
 * point into its own storage.
 */
#ifndef CC_FLOW_H
#define CC_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#define CC_FLOW_MAX_BYTES   (64 * 1024)  /* a body larger than this is refused */
#define CC_FLOW_MAX_NODES   200
#define CC_FLOW_MAX_PROMPTS 16           /* prompts of one node */
#define CC_FLOW_MAX_SPANS   8            /* time spans of one day */
#define CC_FLOW_MAX_HOLIDAYS 366
#define CC_FLOW_NAME_MAX    64           /* node, prompt, flow and variable names, with NUL */
#define CC_FLOW_DIGITS      "0123456789*#ABCD" /* menu keys, in this order */
#define CC_FLOW_NO_NODE     (-1)
#define CC_FLOW_MAX_SKILLS  8            /* skills of one queue node */

enum cc_flow_type {
	CC_FLOW_PLAY, CC_FLOW_MENU, CC_FLOW_COLLECT, CC_FLOW_SCHEDULE, CC_FLOW_AGENT,
	CC_FLOW_NUMBER, CC_FLOW_GOTO, CC_FLOW_HANGUP, CC_FLOW_QUEUE,
};

/* "play" ... "queue"; NULL for an unknown value. */
const char *cc_flow_type_name(enum cc_flow_type t);

struct cc_flow_span {            /* [from, to) in minutes after midnight, to <= 1440 */
	uint16_t from, to;
};

struct cc_flow_node {
	char name[CC_FLOW_NAME_MAX];
	enum cc_flow_type type;
	int next;                    /* play, agent, number, collect: node index or CC_FLOW_NO_NODE (hang up) */

	/* play: prompts (in order); menu and collect: prompts[0] is the prompt */
	char (*prompts)[CC_FLOW_NAME_MAX];
	size_t n_prompts;
	bool interruptible;          /* play: a digit stops it (default true); menu/collect: always */

	/* menu and collect */
	int timeout_s;               /* wait for a digit after the prompt (default 5) */
	int retries;                 /* attempts after the first (default 2) */
	char invalid[CC_FLOW_NAME_MAX]; /* prompt after a wrong key or timeout, "" none (default "invalid") */
	int options[16];             /* menu: node per key of CC_FLOW_DIGITS, or CC_FLOW_NO_NODE */
	int dflt;                    /* menu/collect: node after the last attempt, CC_FLOW_NO_NODE: hang up */

	/* collect: digits into var */
	char var[CC_FLOW_NAME_MAX];
	int min_digits, max_digits;  /* 1..32 */
	char terminator;             /* '#', '*' or '\0' for none */

	/* schedule: open or closed now, in the tenant's time zone */
	int open, closed;            /* node indexes */
	struct cc_flow_span week[7][CC_FLOW_MAX_SPANS]; /* [0] = Monday ... [6] = Sunday */
	size_t n_spans[7];
	int32_t *holidays;           /* days since 1970-01-01 (sorted), closed all day */
	size_t n_holidays;

	/* agent: extension; number: E.164 "+..."; both ring timeout_s (default 20 / 30) */
	char extension[12];
	char number[20];
	int ring_s;

	/* goto: another flow of the tenant, started at its start */
	char flow[CC_FLOW_NAME_MAX];

	/* queue: the queue's name (the ACD's), and where the call goes when the
	 * ACD refuses it (full, no such queue, no agents) and names no route */
	char queue[CC_FLOW_NAME_MAX];
	int fallback;
	int priority;                /* 0..100 (default 0): the entry's priority class */
	struct cc_flow_skill {       /* skills the caller needs, added to the queue's */
		char name[CC_FLOW_NAME_MAX];
		int level;               /* 1..5 */
	} skills[CC_FLOW_MAX_SKILLS];
	size_t n_skills;
};

struct cc_flow {
	int start;                   /* node index */
	struct cc_flow_node *nodes;
	size_t n_nodes;
	/* distinct names, for tenantd's checks and the stored row */
	char (*prompts)[CC_FLOW_NAME_MAX];  /* every prompt any node plays (not "invalid" defaults) */
	size_t n_prompts;
	char (*flows)[CC_FLOW_NAME_MAX];    /* every flow a goto names */
	size_t n_flows;
};

/* A refusal: where and why, for a 422 {"error":{"field":field,"message":why}}. */
struct cc_flow_error {
	char field[160];             /* "nodes.welcome.options.x", "start", "nodes.hours.week.mon" */
	char message[200];
};

/*
 * Parses and checks a flow document. Refused (CC_ERROR, *err filled): not an
 * object, unknown or missing fields, a node referring to an unknown node, a
 * menu key that is not one of CC_FLOW_DIGITS, a bad time ("25:00") or day,
 * a holiday that is not a date, a node unreachable from start, a cycle that
 * passes no menu or collect node (a caller stuck where no key helps), more
 * than CC_FLOW_MAX_NODES nodes. Prompt and flow names are only checked for
 * form here; whether they exist is the caller's question (tenantd).
 * On CC_OK *out is a new flow for cc_flow_free.
 */
int cc_flow_parse(const json_t *doc, struct cc_flow **out, struct cc_flow_error *err);
void cc_flow_free(struct cc_flow *f);

/* The node called name, or CC_FLOW_NO_NODE. */
int cc_flow_node_index(const struct cc_flow *f, const char *name);

/*
 * Whether a schedule node is open at local time: wday 0 = Monday, minute of
 * the day 0..1439, day = days since 1970-01-01 of the local date (for the
 * holidays). A span "08:30-18:00" is open from 08:30:00 up to 17:59:59.
 */
bool cc_flow_schedule_open(const struct cc_flow_node *n, int wday, int minute, int32_t day);

/*
 * The local wday/minute/day of instant t in IANA zone tz ("Asia/Shanghai"):
 * CC_OK, or CC_ERROR for a zone the system does not know (the caller treats
 * the schedule as closed and logs it). Not thread-safe (it sets TZ around
 * localtime_r): call it from one thread only (mediad's loop), in a process
 * that had TZ set before it started other threads (TZ is then only ever
 * swapped in place, never added or removed, while they run).
 */
int cc_flow_local_time(time_t t, const char *tz, int *wday, int *minute, int32_t *day);

#endif
