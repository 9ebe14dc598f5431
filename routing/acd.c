/*
 * acd.c: the ACD's runtime (acd.h, docs/ACD.md). Pure: every input carries
 * now_ms (wall-clock milliseconds), everything leaving goes through
 * struct acd_out, synchronously.
 *
 * Data structures (sized for 1,000 queues, 10,000 agents, 5,000 waiting):
 *   - per tenant, hash maps (lib/map.h) of agents by id and by extension,
 *     of entries by call id, of VIPs and of the sticky-agent map by caller;
 *   - per queue, its waiting entries in one intrusive doubly linked list
 *     kept sorted by (VIP, priority class descending, arrival, sequence):
 *     an arrival is inserted scanning from the tail, which is O(1) for the
 *     usual caller (it is the newest of its class) and O(entries of lower
 *     classes) for a VIP; dispatch and positions read the same list;
 *   - per queue, its ready members in an intrusive list in the order they
 *     became ready (longest idle first), so an arrival looks only at ready
 *     agents and longest_idle takes the first eligible one;
 *   - every deadline (agents' reserved/ringing/on_call/wrapup, entries'
 *     max wait and callback retries) in one binary min-heap whose nodes
 *     live in the agents and entries (O(log n) arm, move, disarm).
 * Dispatch is event driven: a change pushes the entry that may now be
 * offered, or the agent that may now take one, on a work list; acd_dispatch
 * drains the lists (entries first, so a caller an agent just missed goes to
 * another ready agent before that agent takes a caller again).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acd.h"
#include "cc.h"
#include "clock.h"
#include "event_types.h"
#include "events.h"
#include "map.h"
#include "strategy.h"

#define NOIDX SIZE_MAX
#define ACD_MOVES_MAX 8                  /* queue overflows of one call before it hangs up */
#define ACD_CALL_MAX_MS (12LL * 3600 * 1000) /* on_call's deadline: reconciled long before */
#define HALF_HOUR_MS (30LL * 60 * 1000)
#define INST_MAX ACD_NAME_MAX
#define STICKY_PRUNE_MS 60000            /* sticky callers past their days dropped this often */

enum timer_kind { TM_AGENT, TM_ENTRY };

struct timer {
	int64_t at;
	size_t idx;                  /* in the heap, NOIDX when disarmed */
	enum timer_kind kind;
	void *owner;
};

struct queue;
struct agent;
struct entry;
struct tenant;

struct member {                      /* one agent's membership of one queue */
	struct agent *agent;
	struct queue *queue;
	int priority;
	size_t pos;                  /* in queue->members */
	struct member *rprev, *rnext;/* queue's ready list */
	bool in_ready;
};

struct agent {
	struct tenant *t;
	char id[CC_UUID_LEN], ext[ACD_EXT_MAX], team[ACD_NAME_MAX];
	struct acd_skill *skills;
	size_t n_skills;
	struct member *mem;          /* sorted by priority, 1 first */
	size_t n_mem;
	enum acd_state state;
	char reason[ACD_NAME_MAX];
	int64_t since_ms;
	uint64_t seq, epoch;
	bool has_pending;
	enum acd_state pending;
	char pending_reason[ACD_NAME_MAX];
	struct entry *entry;         /* reserved / ringing for it */
	bool other;                  /* on_call: a call that is not an ACD offer */
	char call[CC_UUID_LEN];      /* reserved / ringing / on_call: its call */
	char instance[INST_MAX];
	char qid[CC_UUID_LEN];       /* the queue of its ACD call (wrap-up, AHT) */
	char wrap_call[CC_UUID_LEN]; /* wrapup: the call it wraps up (its desktop's disposition) */
	int64_t answered_ms;
	int missed;
	uint64_t calls;
	int64_t talk_ms;
	char busy[ACD_BUSY_MAX][CC_UUID_LEN];
	size_t n_busy;
	size_t n_busy_more;          /* other calls beyond ACD_BUSY_MAX: their ends match by count */
	bool configured;             /* in the tenant's configuration */
	bool in_work;
	struct timer tm;
};

enum entry_state { E_WAITING, E_OFFERED, E_CB_WAIT, E_CB_CONNECTING };

struct entry {
	struct tenant *t;
	struct queue *q;             /* NULL: restored, its tenant not configured yet */
	char qname[ACD_NAME_MAX], qid[CC_UUID_LEN];
	char call[CC_UUID_LEN], instance[INST_MAX], caller[CC_E164_MAX + 2];
	struct acd_skill *skills;
	size_t n_skills;
	int priority;                /* the IVR node's, 0..100 */
	int vip;                     /* VIP class 1..100, 0 none */
	char dedicated[ACD_EXT_MAX];
	int64_t first_ms, arrival_ms;
	uint64_t seq;
	int moves;
	enum entry_state st;
	char callback[CC_E164_MAX + 2];
	int attempts;
	struct agent **ring;         /* offered to (ring_all: several) */
	struct agent *ring1;
	size_t n_ring;
	int ring_s;
	char offer[CC_UUID_LEN];
	bool sticky_tried;
	struct agent *skip;          /* missed it last: offered to others first */
	int64_t answered_ms;
	char cb_agent[ACD_EXT_MAX];  /* callback connecting: the agent on it */
	uint64_t nev;
	struct entry *prev, *next;
	bool in_work;
	struct timer tm;
};

struct counters {
	int64_t since_ms;
	uint64_t offered, answered, abandoned, overflowed, answered_in_sl;
	int64_t longest_wait_ms;
};

struct queue {
	struct acd_queue_cfg cfg;
	struct tenant *t;
	size_t idx;
	struct entry *head, *tail;
	size_t n;
	struct member **members;
	size_t n_members, cap_members;
	struct member *rhead, *rtail;
	size_t rr;
	int64_t aht_ms;              /* EWMA of talk time, -1 until measured */
	struct counters c;
};

struct sticky {                      /* a caller's last answering agent */
	char ext[ACD_EXT_MAX];
	int64_t at_ms;
	char caller[CC_E164_MAX + 2];
	struct sticky *prev, *next;  /* tenant's list, oldest at_ms first */
};

struct tenant {
	char id[CC_UUID_LEN];
	char lang[4];
	bool configured;
	struct queue *queues;
	size_t n_queues;
	struct cc_map qbyname, qbyid;
	struct cc_map agents, byext;     /* id -> agent, ext -> agent (configured) */
	struct cc_map entries;           /* call -> entry */
	struct cc_map sticky;            /* caller -> struct sticky */
	struct sticky *shead, *stail;    /* the same, oldest first: pruned from the head */
	int sticky_days;                 /* the longest sticky.within_days of its queues */
	struct acd_vip *vips;
	size_t n_vips;
	struct cc_map vipmap;            /* e164 -> struct acd_vip */
	char (*reasons)[ACD_NAME_MAX];
	size_t n_reasons;
	size_t n_waiting;
};

struct acd {
	struct acd_out out;
	uint64_t rng;
	struct cc_map tenants;
	struct timer **heap;
	size_t n_heap, cap_heap;
	struct entry **ework;        /* FIFO: [h_ework, n_ework), NULL: taken out */
	size_t h_ework, n_ework, cap_ework;
	struct agent **awork;
	size_t h_awork, n_awork, cap_awork;
	uint64_t next_seq;
	int64_t sticky_pruned_ms;    /* the last acd_tick that pruned the sticky maps */
	struct acd_stats st;
	int depth;                   /* dispatch re-entry guard */
};

static const char *const default_reasons[] = { "break", "lunch", "meeting", "training", "missed_calls" };

static const char *const state_names[] = {
	[ACD_LOGGED_OUT] = "logged_out", [ACD_READY] = "ready", [ACD_NOT_READY] = "not_ready",
	[ACD_RESERVED] = "reserved", [ACD_RINGING] = "ringing", [ACD_ON_CALL] = "on_call",
	[ACD_WRAPUP] = "wrapup",
};

const char *acd_state_name(enum acd_state s)
{
	return (unsigned)s < CC_ARRAY_LEN(state_names) ? state_names[s] : "?";
}

int acd_state_parse(const char *s, enum acd_state *out)
{
	for (size_t i = 0; s && i < CC_ARRAY_LEN(state_names); i++)
		if (strcmp(state_names[i], s) == 0) {
			*out = (enum acd_state)i;
			return 0;
		}
	return -1;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	CC_BUG_ON(!p);
	return p;
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	CC_BUG_ON(!p);
	return p;
}

/* Copies s into a buffer of n bytes: false (dst untouched) if it is NULL or
 * does not fit. */
static bool cpy(char *dst, size_t n, const char *s)
{
	size_t len;

	if (!s)
		return false;
	len = strlen(s);
	if (len >= n)
		return false;
	memcpy(dst, s, len + 1);
	return true;
}

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* ---- the deadline heap ---- */

static void heap_place(struct acd *a, size_t i, struct timer *t)
{
	a->heap[i] = t;
	t->idx = i;
}

static void heap_up(struct acd *a, size_t i)
{
	struct timer *t = a->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (a->heap[p]->at <= t->at)
			break;
		heap_place(a, i, a->heap[p]);
		i = p;
	}
	heap_place(a, i, t);
}

static void heap_down(struct acd *a, size_t i)
{
	struct timer *t = a->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		int64_t at = t->at;

		if (l < a->n_heap && a->heap[l]->at < at) {
			m = l;
			at = a->heap[l]->at;
		}
		if (r < a->n_heap && a->heap[r]->at < at)
			m = r;
		if (m == i)
			break;
		heap_place(a, i, a->heap[m]);
		i = m;
	}
	heap_place(a, i, t);
}

static void timer_clear(struct acd *a, struct timer *t)
{
	size_t i = t->idx;
	struct timer *last;

	if (i == NOIDX)
		return;
	t->idx = NOIDX;
	last = a->heap[--a->n_heap];
	if (last == t)
		return;
	heap_place(a, i, last);
	heap_up(a, i);
	heap_down(a, last->idx);
}

static void timer_set(struct acd *a, struct timer *t, int64_t at)
{
	if (t->idx != NOIDX) {
		t->at = at;
		heap_up(a, t->idx);
		heap_down(a, t->idx);
		return;
	}
	if (a->n_heap == a->cap_heap) {
		a->cap_heap = a->cap_heap ? 2 * a->cap_heap : 64;
		a->heap = xrealloc(a->heap, a->cap_heap * sizeof(*a->heap));
	}
	t->at = at;
	heap_place(a, a->n_heap++, t);
	heap_up(a, t->idx);
}

/* ---- events and journal ---- */

static json_t *envelope(const char *tenant, enum cc_event_type type, const char *idname, int64_t now_ms)
{
	char id[CC_UUID_LEN], ts[CC_RFC3339_LEN];
	json_t *ev;

	/* cc_event_new's envelope, but pure: the id is named (a restart never
	 * repeats a name: it holds the journaled seq or the time) and the
	 * time is the input's */
	cc_uuid_named(idname, id);
	cc_rfc3339(now_ms * 1000, ts);
	ev = json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", CC_EVENT_VERSION, "id", id, "ts", ts,
	               "tenant", tenant, "type", cc_event_name(type));
	CC_BUG_ON(!ev);
	return ev;
}

static void emit(struct acd *a, const char *tenant, enum cc_event_type type, json_t *ev)
{
	char subject[160];

	if (cc_event_subject(subject, sizeof(subject), type, tenant) != CC_OK || !a->out.event) {
		json_decref(ev);
		return;
	}
	a->out.event(a->out.arg, subject, ev);
}

static json_t *call_event(struct entry *e, enum cc_event_type type, int64_t now_ms)
{
	char name[256];
	json_t *ev;

	snprintf(name, sizeof(name), "acd/%s/%s/%llu/%s/%llu/%lld", e->t->id, e->call,
	         (unsigned long long)e->seq, cc_event_name(type), (unsigned long long)e->nev++,
	         (long long)now_ms);
	ev = envelope(e->t->id, type, name, now_ms);
	json_object_set_new(ev, "call", json_string(e->call));
	json_object_set_new(ev, "queue", json_string(e->q ? e->q->cfg.name : e->qname));
	return ev;
}

static json_t *target_json(const struct acd_target *t)
{
	static const char *const types[] = { "none", "queue", "agent", "number", "flow", "hangup" };
	json_t *j = json_pack("{s:s, s:s}", "type", (unsigned)t->type < CC_ARRAY_LEN(types) ? types[t->type] : "?",
	                      "name", t->name);

	if (t->type == ACD_TARGET_HANGUP)
		json_object_set_new(j, "prompt", json_string(*t->prompt ? t->prompt : "goodbye"));
	return j;
}

static void journal(struct acd *a, const char *subject, json_t *rec)
{
	if (a->out.journal)
		a->out.journal(a->out.arg, subject, rec);
	else
		json_decref(rec);
}

static void journal_agent(struct acd *a, struct agent *ag)
{
	char subject[128];
	json_t *rec;

	snprintf(subject, sizeof(subject), "cc.acd.%s.agent.%s", ag->t->id, ag->id);
	rec = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:s, s:s, s:s, s:s, s:I, s:i, s:I, s:I}",
	                "ext", ag->ext, "state", acd_state_name(ag->state), "reason", ag->reason,
	                "since", (json_int_t)ag->since_ms, "seq", (json_int_t)ag->seq,
	                "epoch", (json_int_t)ag->epoch,
	                "pending", ag->has_pending ? json_string(acd_state_name(ag->pending)) : json_null(),
	                "pending_reason", ag->pending_reason, "call", ag->call, "instance", ag->instance,
	                "queue", ag->qid, "deadline", (json_int_t)(ag->tm.idx != NOIDX ? ag->tm.at : 0),
	                "missed", ag->missed, "calls", (json_int_t)ag->calls, "talk_ms", (json_int_t)ag->talk_ms);
	CC_BUG_ON(!rec);
	if (ag->other)
		json_object_set_new(rec, "other", json_true());
	journal(a, subject, rec);
}

static void journal_entry(struct acd *a, struct entry *e, bool ended, const char *result)
{
	char subject[128];
	json_t *rec, *sk;

	snprintf(subject, sizeof(subject), "cc.acd.%s.entry.%s", e->t->id, e->call);
	if (ended) {
		rec = json_pack("{s:b, s:s}", "ended", 1, "result", result);
	} else {
		sk = json_object();
		for (size_t i = 0; i < e->n_skills; i++)
			json_object_set_new(sk, e->skills[i].name, json_integer(e->skills[i].level));
		rec = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:i, s:o, s:o, s:i}",
		                "queue", e->qname, "queue_id", e->qid, "instance", e->instance,
		                "caller", e->caller, "priority", e->priority,
		                "arrival", (json_int_t)e->arrival_ms, "first", (json_int_t)e->first_ms,
		                "seq", (json_int_t)e->seq, "moves", e->moves, "skills", sk,
		                "callback", *e->callback ? json_string(e->callback) : json_null(),
		                "attempts", e->attempts);
	}
	CC_BUG_ON(!rec);
	journal(a, subject, rec);
}

/* ---- work lists ---- */

static void work_entry(struct acd *a, struct entry *e)
{
	if (e->in_work || e->st != E_WAITING || !e->q)
		return;
	if (a->n_ework == a->cap_ework) {
		a->cap_ework = a->cap_ework ? 2 * a->cap_ework : 64;
		a->ework = xrealloc(a->ework, a->cap_ework * sizeof(*a->ework));
	}
	a->ework[a->n_ework++] = e;
	e->in_work = true;
}

static void work_agent(struct acd *a, struct agent *ag)
{
	if (ag->in_work)
		return;
	if (a->n_awork == a->cap_awork) {
		a->cap_awork = a->cap_awork ? 2 * a->cap_awork : 64;
		a->awork = xrealloc(a->awork, a->cap_awork * sizeof(*a->awork));
	}
	a->awork[a->n_awork++] = ag;
	ag->in_work = true;
}

static void unwork_entry(struct acd *a, struct entry *e)
{
	for (size_t i = a->h_ework; e->in_work && i < a->n_ework; i++)
		if (a->ework[i] == e) {
			a->ework[i] = NULL;
			e->in_work = false;
		}
}

static void unwork_agent(struct acd *a, struct agent *ag)
{
	for (size_t i = a->h_awork; ag->in_work && i < a->n_awork; i++)
		if (a->awork[i] == ag) {
			a->awork[i] = NULL;
			ag->in_work = false;
		}
}

/* ---- queues: order, ready lists ---- */

/* a goes before b in queue order */
static bool before(const struct entry *x, const struct entry *y)
{
	if ((x->vip > 0) != (y->vip > 0))
		return x->vip > 0;
	int cx = x->vip > 0 ? x->vip : x->priority, cy = y->vip > 0 ? y->vip : y->priority;
	if (cx != cy)
		return cx > cy;
	if (x->arrival_ms != y->arrival_ms)
		return x->arrival_ms < y->arrival_ms;
	return x->seq < y->seq;
}

static void q_insert(struct queue *q, struct entry *e)
{
	struct entry *p = q->tail;

	while (p && before(e, p))
		p = p->prev;
	e->prev = p;
	e->next = p ? p->next : q->head;
	if (e->next)
		e->next->prev = e;
	else
		q->tail = e;
	if (p)
		p->next = e;
	else
		q->head = e;
	e->q = q;
	q->n++;
	q->t->n_waiting++;
}

static void q_remove(struct queue *q, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		q->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		q->tail = e->prev;
	e->prev = e->next = NULL;
	q->n--;
	q->t->n_waiting--;
}

static int q_position(const struct queue *q, const struct entry *e)
{
	int pos = 1;

	for (const struct entry *p = q->head; p && p != e; p = p->next)
		pos++;
	return pos;
}

static void ready_add(struct member *m)
{
	struct queue *q = m->queue;
	struct member *p = q->rtail;

	/* by ready time; a new one is the newest: O(1) */
	while (p && p->agent->since_ms > m->agent->since_ms)
		p = p->rprev;
	m->rprev = p;
	m->rnext = p ? p->rnext : q->rhead;
	if (m->rnext)
		m->rnext->rprev = m;
	else
		q->rtail = m;
	if (p)
		p->rnext = m;
	else
		q->rhead = m;
	m->in_ready = true;
}

static void ready_del(struct member *m)
{
	struct queue *q = m->queue;

	if (!m->in_ready)
		return;
	if (m->rprev)
		m->rprev->rnext = m->rnext;
	else
		q->rhead = m->rnext;
	if (m->rnext)
		m->rnext->rprev = m->rprev;
	else
		q->rtail = m->rprev;
	m->rprev = m->rnext = NULL;
	m->in_ready = false;
}

static struct queue *queue_by_id(struct tenant *t, const char *id)
{
	return *id ? cc_map_get(&t->qbyid, id) : NULL;
}

static void counters_roll(struct queue *q, int64_t now_ms)
{
	int64_t start = now_ms - ((now_ms % HALF_HOUR_MS) + HALF_HOUR_MS) % HALF_HOUR_MS;

	if (q->c.since_ms != start) {
		memset(&q->c, 0, sizeof(q->c));
		q->c.since_ms = start;
	}
}

static int staffed(const struct queue *q)
{
	int n = 0;

	for (size_t i = 0; i < q->n_members; i++)
		n += q->members[i]->agent->state != ACD_LOGGED_OUT;
	return n;
}

/* From the queue's measured handling time (EWMA of talk time plus its
 * wrap-up) over the agents staffing it; -1 until a call was handled. */
static int expected_wait(const struct queue *q, int position)
{
	int n = staffed(q);

	if (q->aht_ms < 0)
		return -1;
	if (n == 0)
		n = 1;
	int64_t ms = (int64_t)position * (q->aht_ms + q->cfg.wrapup_s * 1000LL) / n;
	return (int)((ms + 999) / 1000);
}

/* ---- skills ---- */

static int agent_level(const struct agent *ag, const char *skill)
{
	for (size_t i = 0; i < ag->n_skills; i++)
		if (strcmp(ag->skills[i].name, skill) == 0)
			return ag->skills[i].level;
	return 0;
}

/* -1: not eligible; else its proficiency (the sum of its levels in the
 * skills required). */
static int eligible(const struct agent *ag, const struct entry *e)
{
	int sum = 0, l;
	const struct acd_queue_cfg *c = &e->q->cfg;

	for (size_t i = 0; i < c->n_required; i++) {
		if ((l = agent_level(ag, c->required[i].name)) < c->required[i].level)
			return -1;
		sum += l;
	}
	for (size_t i = 0; i < e->n_skills; i++) {
		if ((l = agent_level(ag, e->skills[i].name)) < e->skills[i].level)
			return -1;
		sum += l;
	}
	return sum;
}

static bool member_of(const struct agent *ag, const struct queue *q, size_t *pos)
{
	for (size_t i = 0; i < ag->n_mem; i++)
		if (ag->mem[i].queue == q) {
			if (pos)
				*pos = ag->mem[i].pos;
			return true;
		}
	return false;
}

/* ---- agents ---- */

static struct agent *agent_by_ext(struct tenant *t, const char *ext)
{
	return ext && *ext ? cc_map_get(&t->byext, ext) : NULL;
}

static json_t *agent_event_json(struct agent *ag, enum acd_state prev, int64_t now_ms)
{
	char name[200];
	static const enum cc_event_type types[] = {
		[ACD_LOGGED_OUT] = CC_EV_LOGGED_OUT, [ACD_READY] = CC_EV_READY,
		[ACD_NOT_READY] = CC_EV_NOT_READY, [ACD_RESERVED] = CC_EV_RESERVED,
		[ACD_RINGING] = CC_EV_RINGING, [ACD_ON_CALL] = CC_EV_ON_CALL, [ACD_WRAPUP] = CC_EV_WRAPUP,
	};
	json_t *ev;
	struct queue *q = queue_by_id(ag->t, ag->qid);

	snprintf(name, sizeof(name), "acd/agent/%s/%s/%llu", ag->t->id, ag->id, (unsigned long long)ag->seq);
	ev = envelope(ag->t->id, types[ag->state], name, now_ms);
	json_object_set_new(ev, "agent", json_string(ag->ext));
	json_object_set_new(ev, "seq", json_integer((json_int_t)ag->seq));
	json_object_set_new(ev, "reason", json_string(ag->reason));
	json_object_set_new(ev, "previous", json_string(acd_state_name(prev)));
	if (*ag->call)
		json_object_set_new(ev, "call", json_string(ag->call));
	if (q && ag->state >= ACD_RESERVED && !ag->other)
		json_object_set_new(ev, "queue", json_string(q->cfg.name));
	return ev;
}

/* Every state change of an agent goes here: its timer, its ready lists,
 * the event and the journal. */
static void agent_state(struct acd *a, struct agent *ag, enum acd_state st, const char *reason,
                        int64_t deadline, int64_t now_ms)
{
	enum acd_state prev = ag->state;
	static const enum cc_event_type types[] = {
		[ACD_LOGGED_OUT] = CC_EV_LOGGED_OUT, [ACD_READY] = CC_EV_READY,
		[ACD_NOT_READY] = CC_EV_NOT_READY, [ACD_RESERVED] = CC_EV_RESERVED,
		[ACD_RINGING] = CC_EV_RINGING, [ACD_ON_CALL] = CC_EV_ON_CALL, [ACD_WRAPUP] = CC_EV_WRAPUP,
	};

	ag->state = st;
	if (st != ACD_WRAPUP)
		*ag->wrap_call = 0;
	if (!cpy(ag->reason, sizeof(ag->reason), reason ? reason : ""))
		*ag->reason = 0;
	ag->since_ms = now_ms;
	ag->seq++;
	if (st == ACD_READY || st == ACD_NOT_READY || st == ACD_LOGGED_OUT) {
		timer_clear(a, &ag->tm);
		ag->has_pending = false;
		*ag->pending_reason = 0;
		ag->entry = NULL;
		ag->other = false;
		*ag->call = *ag->instance = 0;
	} else {
		timer_set(a, &ag->tm, deadline);
	}
	for (size_t i = 0; i < ag->n_mem; i++) {
		if (st == ACD_READY && !ag->mem[i].in_ready) {
			ready_del(&ag->mem[i]);
			ready_add(&ag->mem[i]);
		} else if (st != ACD_READY) {
			ready_del(&ag->mem[i]);
		}
	}
	if (st == ACD_READY)
		work_agent(a, ag);
	if (st != ACD_WRAPUP && st != ACD_ON_CALL && st != ACD_RESERVED && st != ACD_RINGING)
		*ag->qid = 0;
	emit(a, ag->t->id, types[st], agent_event_json(ag, prev, now_ms));
	journal_agent(a, ag);
}

/* The agent's ACD call or reservation is over without a wrap-up: its
 * pending state, else on_call for its other calls, else ready. */
static void agent_finish(struct acd *a, struct agent *ag, int64_t now_ms)
{
	ag->entry = NULL;
	ag->other = false;
	*ag->call = *ag->instance = 0;
	if (ag->has_pending) {
		char reason[ACD_NAME_MAX];

		memcpy(reason, ag->pending_reason, sizeof(reason));
		agent_state(a, ag, ag->pending, reason, 0, now_ms);
	} else if (ag->n_busy || ag->n_busy_more) {
		ag->other = true;
		cpy(ag->call, sizeof(ag->call), ag->n_busy ? ag->busy[0] : "");
		agent_state(a, ag, ACD_ON_CALL, "", now_ms + ACD_CALL_MAX_MS, now_ms);
	} else {
		agent_state(a, ag, ACD_READY, "", 0, now_ms);
	}
}

/* ---- entries ---- */

static void entry_free(struct acd *a, struct entry *e)
{
	timer_clear(a, &e->tm);
	unwork_entry(a, e);
	if (e->ring != &e->ring1)
		free(e->ring);
	free(e->skills);
	free(e);
}

static void ring_clear(struct entry *e)
{
	if (e->ring != &e->ring1)
		free(e->ring);
	e->ring = &e->ring1;
	e->ring1 = NULL;
	e->n_ring = 0;
}

/* Releases every agent the entry's offer holds (not a miss); cancel: also
 * tell mediad to stop ringing them. */
static void release_ring(struct acd *a, struct entry *e, bool cancel, int64_t now_ms)
{
	size_t n = e->n_ring;
	struct agent *ags[ACD_RING_ALL_MAX];

	memcpy(ags, e->ring, n * sizeof(*ags));
	ring_clear(e);
	if (cancel && n && a->out.cancel)
		a->out.cancel(a->out.arg, e->instance, e->call, e->offer);
	for (size_t i = 0; i < n; i++)
		if (ags[i]->entry == e)
			agent_finish(a, ags[i], now_ms);
	if (e->st == E_OFFERED)
		e->st = E_WAITING;
}

static void max_wait_arm(struct acd *a, struct entry *e)
{
	if (e->q && e->q->cfg.max_wait_s > 0 && !*e->callback && e->st == E_WAITING)
		timer_set(a, &e->tm, e->arrival_ms + e->q->cfg.max_wait_s * 1000LL);
	else if (e->st != E_CB_WAIT)
		timer_clear(a, &e->tm);
}

enum terminal { T_ANSWERED, T_ABANDONED, T_OVERFLOWED, T_ENDED };

/* The one terminal event of an entry: counters, event, journal, gone. */
static void entry_end(struct acd *a, struct entry *e, enum terminal how, const struct acd_target *target,
                      const char *why, const char *agent, const char *leg, int64_t now_ms)
{
	static const char *const results[] = { "answered", "abandoned", "overflowed", "ended" };
	struct queue *q = e->q;
	int64_t wait = (how == T_ANSWERED && e->answered_ms ? e->answered_ms : now_ms) - e->first_ms;
	json_t *ev;
	int pos = q ? q_position(q, e) : 0;

	if (wait < 0)
		wait = 0;
	if (e->n_ring)
		release_ring(a, e, how != T_ABANDONED && how != T_ANSWERED, now_ms);
	if (q) {
		counters_roll(q, now_ms);
		if (wait > q->c.longest_wait_ms)
			q->c.longest_wait_ms = wait;
	}
	/* (q is NULL for the callers of a queue that is gone: the event all the same) */
	switch (how) {
	case T_ANSWERED:
		if (q) {
			q->c.answered++;
			if (wait <= q->cfg.service_level_s * 1000LL)
				q->c.answered_in_sl++;
		}
		a->st.answered++;
		ev = call_event(e, CC_EV_AGENT_ANSWERED, now_ms);
		json_object_set_new(ev, "agent", json_string(agent ? agent : ""));
		json_object_set_new(ev, "wait_ms", json_integer(wait));
		json_object_set_new(ev, "leg", json_string(leg ? leg : ""));
		break;
	case T_OVERFLOWED:
		if (q)
			q->c.overflowed++;
		a->st.overflowed++;
		ev = call_event(e, CC_EV_OVERFLOWED, now_ms);
		json_object_set_new(ev, "why", json_string(why));
		json_object_set_new(ev, "target", target_json(target));
		json_object_set_new(ev, "wait_ms", json_integer(wait));
		break;
	default:
		if (q)
			q->c.abandoned++;
		a->st.abandoned++;
		ev = call_event(e, CC_EV_ABANDONED, now_ms);
		json_object_set_new(ev, "wait_ms", json_integer(wait));
		json_object_set_new(ev, "position", json_integer(pos));
		/* a callback that never reached the customer: which number, how
		 * many times it was dialled (the caller did not hang up on us) */
		if (*e->callback) {
			json_object_set_new(ev, "callback", json_string(e->callback));
			json_object_set_new(ev, "attempts", json_integer(e->attempts));
		}
		break;
	}
	emit(a, e->t->id, how == T_ANSWERED ? CC_EV_AGENT_ANSWERED :
	     how == T_OVERFLOWED ? CC_EV_OVERFLOWED : CC_EV_ABANDONED, ev);
	if (q)
		q_remove(q, e);
	journal_entry(a, e, true, results[how]);
	cc_map_del(&e->t->entries, e->call);
	entry_free(a, e);
}

static struct acd_target hangup_target(void)
{
	struct acd_target t = { .type = ACD_TARGET_HANGUP };
	return t;
}

static void entry_queued_event(struct acd *a, struct entry *e, int64_t now_ms);
static bool queue_accepts(struct queue *q, const char **why);

/* The entry leaves its queue for the queue's overflow (why: max_wait,
 * max_size, no agents). A queue target moves it (a new arrival there,
 * its first arrival kept); after ACD_MOVES_MAX moves it hangs up. */
static void overflow(struct acd *a, struct entry *e, const char *why, const struct acd_target *over,
                     int64_t now_ms)
{
	struct acd_target t = *over;
	struct queue *dst = NULL;
	const char *why2;

	if (e->n_ring)
		release_ring(a, e, true, now_ms);
	if (t.type == ACD_TARGET_NONE)
		t = hangup_target();
	if (t.type == ACD_TARGET_QUEUE) {
		dst = cc_map_get(&e->t->qbyname, t.name);
		if (!dst || dst == e->q || e->moves >= ACD_MOVES_MAX) {
			dst = NULL;
			t = hangup_target();
		}
	}
	if (!dst) {
		if (a->out.route)
			a->out.route(a->out.arg, e->instance, e->call, &t);
		entry_end(a, e, T_OVERFLOWED, &t, why, NULL, NULL, now_ms);
		return;
	}
	/* a move: overflowed (not terminal) here, queued there */
	json_t *ev = call_event(e, CC_EV_OVERFLOWED, now_ms);
	json_object_set_new(ev, "why", json_string(why));
	json_object_set_new(ev, "target", target_json(&t));
	json_object_set_new(ev, "wait_ms", json_integer(now_ms - e->first_ms));
	emit(a, e->t->id, CC_EV_OVERFLOWED, ev);
	counters_roll(e->q, now_ms);
	e->q->c.overflowed++;
	a->st.overflowed++;
	q_remove(e->q, e);
	e->moves++;
	e->arrival_ms = now_ms;
	e->sticky_tried = false;
	e->skip = NULL;
	e->q = dst;
	cpy(e->qname, sizeof(e->qname), dst->cfg.name);
	cpy(e->qid, sizeof(e->qid), dst->cfg.id);
	if (!queue_accepts(dst, &why2)) {
		/* not queued there either: its overflow in turn (moves bound it) */
		e->q = dst;
		q_insert(dst, e);
		if (streq(why2, "full"))
			a->st.blocked++;
		overflow(a, e, streq(why2, "full") ? "max_size" : "no agents", &dst->cfg.overflow, now_ms);
		return;
	}
	q_insert(dst, e);
	counters_roll(dst, now_ms);
	dst->c.offered++;
	max_wait_arm(a, e);
	entry_queued_event(a, e, now_ms);
	journal_entry(a, e, false, NULL);
	work_entry(a, e);
}

/* ---- offers ---- */

static void offer(struct acd *a, struct entry *e, struct agent **ags, size_t n, int ring_s, int64_t now_ms)
{
	struct acd_offer o;
	char name[200];
	json_t *ev, *arr = NULL;

	memset(&o, 0, sizeof(o));
	unwork_entry(a, e);
	ring_clear(e);
	if (n > 1) {
		e->ring = xcalloc(n, sizeof(*e->ring));
	}
	for (size_t i = 0; i < n; i++) {
		struct agent *ag = ags[i];

		ag->epoch++;
		ag->entry = e;
		cpy(ag->call, sizeof(ag->call), e->call);
		cpy(ag->instance, sizeof(ag->instance), e->instance);
		cpy(ag->qid, sizeof(ag->qid), e->q->cfg.id);
		unwork_agent(a, ag);
		e->ring[i] = ag;
		o.agents[i].epoch = ag->epoch;
		cpy(o.agents[i].agent, sizeof(o.agents[i].agent), ag->ext);
	}
	e->n_ring = n;
	e->st = E_OFFERED;
	e->ring_s = ring_s;
	snprintf(name, sizeof(name), "acd-offer/%s/%s/%llu", e->t->id, ags[0]->id,
	         (unsigned long long)ags[0]->epoch);
	cc_uuid_named(name, e->offer);
	for (size_t i = 0; i < n; i++)
		agent_state(a, ags[i], ACD_RESERVED, "", now_ms + ACD_RESERVE_MS, now_ms);
	o.tenant = e->t->id;
	o.call = e->call;
	o.instance = e->instance;
	memcpy(o.offer, e->offer, sizeof(o.offer));
	o.queue = e->q->cfg.name;
	o.n_agents = n;
	o.ring_s = ring_s;
	o.callback = *e->callback ? e->callback : NULL;
	a->st.offers++;
	ev = call_event(e, CC_EV_OFFERED_AGENT, now_ms);
	if (n == 1) {
		json_object_set_new(ev, "agent", json_string(ags[0]->ext));
		json_object_set_new(ev, "epoch", json_integer((json_int_t)ags[0]->epoch));
	} else {
		arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:I}", "agent", ags[i]->ext,
			                                     "epoch", (json_int_t)ags[i]->epoch));
		json_object_set_new(ev, "agents", arr);
	}
	json_object_set_new(ev, "offer", json_string(e->offer));
	emit(a, e->t->id, CC_EV_OFFERED_AGENT, ev);
	if (a->out.offer)
		a->out.offer(a->out.arg, &o);
}

struct iter {
	struct member *m;
	struct entry *e;
	struct agent *skip;
};

static int iter_next(struct acd_pick *p, struct acd_cand *c)
{
	struct iter *it = p->it;

	for (; it->m; it->m = it->m->rnext) {
		struct agent *ag = it->m->agent;
		int prof;

		if (ag == it->skip || (prof = eligible(ag, it->e)) < 0)
			continue;
		c->agent = ag;
		c->idle_since_ms = ag->since_ms;
		c->calls = ag->calls;
		c->talk_ms = ag->talk_ms;
		c->proficiency = prof;
		c->member_pos = it->m->pos;
		it->m = it->m->rnext;
		return 1;
	}
	return 0;
}

static bool ready_free(const struct agent *ag)
{
	return ag && ag->state == ACD_READY && ag->configured;
}

/* A waiting entry looks for a ready agent: its VIP's dedicated agent, its
 * sticky agent (once, for sticky_ring_s), then the queue's strategy. */
static void place_entry(struct acd *a, struct entry *e, int64_t now_ms)
{
	struct queue *q = e->q;
	struct agent *ag, *ags[ACD_RING_ALL_MAX];
	struct acd_pick p;
	struct iter it;
	struct sticky *s;

	struct agent *ded = agent_by_ext(e->t, e->dedicated);

	if (ded && !ready_free(ded))
		ded = NULL;
	if (ded && ded != e->skip) {
		offer(a, e, &ded, 1, q->cfg.ring_timeout_s, now_ms);
		return;
	}
	if (!e->sticky_tried && q->cfg.sticky_within_days > 0 && *e->caller &&
	    (s = cc_map_get(&e->t->sticky, e->caller)) &&
	    now_ms - s->at_ms <= q->cfg.sticky_within_days * 86400000LL &&
	    (ag = agent_by_ext(e->t, s->ext)) && ready_free(ag)) {
		e->sticky_tried = true;
		offer(a, e, &ag, 1, q->cfg.sticky_ring_s > 0 ? q->cfg.sticky_ring_s : q->cfg.ring_timeout_s, now_ms);
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		memset(&p, 0, sizeof(p));
		it.m = q->rhead;
		it.e = e;
		it.skip = pass == 0 ? e->skip : NULL;
		p.next = iter_next;
		p.it = &it;
		p.rng = &a->rng;
		p.rr_cursor = &q->rr;
		p.n_members = q->n_members;
		acd_strategy_ops(q->cfg.strategy)->pick(&p);
		if (p.n_out) {
			for (size_t i = 0; i < p.n_out; i++)
				ags[i] = p.out[i].agent;
			offer(a, e, ags, p.n_out, q->cfg.ring_timeout_s, now_ms);
			return;
		}
		if (!e->skip)
			break;
		if (ded) {                   /* the dedicated agent missed it, and nobody else is there */
			offer(a, e, &ded, 1, q->cfg.ring_timeout_s, now_ms);
			return;
		}
	}
}

/* A ready agent looks for a caller: in its priority-1 queues first, the
 * oldest by (class, arrival) among them, then priority 2, ... */
static void place_agent(struct acd *a, struct agent *ag, int64_t now_ms)
{
	size_t i = 0;
	struct tenant *t = ag->t;

	/* a VIP waiting for this agent as its dedicated one first */
	for (size_t v = 0; v < t->n_vips; v++) {
		struct entry *best = NULL;

		if (strcmp(t->vips[v].agent, ag->ext) != 0)
			continue;
		for (size_t qi = 0; qi < t->n_queues; qi++)
			for (struct entry *e = t->queues[qi].head; e && e->vip; e = e->next)
				if (e->st == E_WAITING && streq(e->dedicated, ag->ext) &&
				    (!best || e->arrival_ms < best->arrival_ms)) {
					best = e;
					break;
				}
		if (best) {
			offer(a, best, &ag, 1, best->q->cfg.ring_timeout_s, now_ms);
			return;
		}
		break;
	}

	while (i < ag->n_mem) {
		int prio = ag->mem[i].priority;
		struct entry *best = NULL;

		for (; i < ag->n_mem && ag->mem[i].priority == prio; i++) {
			struct queue *q = ag->mem[i].queue;

			for (struct entry *e = q->head; e; e = e->next) {
				if (best && !before(e, best))
					break;
				if (e->st == E_WAITING && eligible(ag, e) >= 0) {
					best = e;
					break;
				}
			}
		}
		if (best) {
			struct queue *q = best->q;
			size_t pos;

			if (q->cfg.strategy == ACD_ROUND_ROBIN && member_of(ag, q, &pos))
				q->rr = pos;
			if (q->cfg.strategy == ACD_RING_ALL || *best->dedicated) {
				/* ring_all rings every ready one; a VIP's own agent first. If
				 * ag is not among those picked, it looks again */
				place_entry(a, best, now_ms);
				if (ready_free(ag))
					work_agent(a, ag);
			} else {
				offer(a, best, &ag, 1, q->cfg.ring_timeout_s, now_ms);
			}
			return;
		}
	}
}

static void dispatch(struct acd *a, int64_t now_ms)
{
	struct timespec t0, t1;
	uint64_t ns;

	if (a->depth)
		return;
	a->depth++;
	clock_gettime(CLOCK_MONOTONIC, &t0);   /* only for stats.dispatch_ns_max */
	for (;;) {
		if (a->h_ework < a->n_ework) {
			struct entry *e = a->ework[a->h_ework++];

			if (!e)
				continue;
			e->in_work = false;
			if (e->st == E_WAITING && e->q)
				place_entry(a, e, now_ms);
		} else if (a->h_awork < a->n_awork) {
			struct agent *ag = a->awork[a->h_awork++];

			if (!ag)
				continue;
			ag->in_work = false;
			if (ready_free(ag))
				place_agent(a, ag, now_ms);
		} else {
			break;
		}
	}
	a->h_ework = a->n_ework = a->h_awork = a->n_awork = 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
	if (ns > a->st.dispatch_ns_max)
		a->st.dispatch_ns_max = ns;
	a->depth--;
}

/* ---- tenants ---- */

static struct tenant *tenant_get(const struct acd *a, const char *id)
{
	return id && *id ? cc_map_get(&a->tenants, id) : NULL;
}

static struct tenant *tenant_make(struct acd *a, const char *id)
{
	struct tenant *t = tenant_get(a, id);

	if (t)
		return t;
	t = xcalloc(1, sizeof(*t));
	cpy(t->id, sizeof(t->id), id);
	cc_map_init(&t->qbyname);
	cc_map_init(&t->qbyid);
	cc_map_init(&t->agents);
	cc_map_init(&t->byext);
	cc_map_init(&t->entries);
	cc_map_init(&t->sticky);
	cc_map_init(&t->vipmap);
	cc_map_put(&a->tenants, t->id, t);
	return t;
}

static void agent_free(struct agent *ag)
{
	free(ag->mem);
	free(ag->skills);
	free(ag);
}

static struct agent *agent_new(struct tenant *t, const char *id)
{
	struct agent *ag = xcalloc(1, sizeof(*ag));

	ag->t = t;
	cpy(ag->id, sizeof(ag->id), id);
	ag->state = ACD_LOGGED_OUT;
	ag->tm.idx = NOIDX;
	ag->tm.kind = TM_AGENT;
	ag->tm.owner = ag;
	cc_map_put(&t->agents, ag->id, ag);
	return ag;
}

struct acd *acd_new(const struct acd_out *out, uint64_t seed)
{
	struct acd *a = xcalloc(1, sizeof(*a));

	a->out = *out;
	a->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	a->next_seq = 1;
	cc_map_init(&a->tenants);
	return a;
}

static void free_sticky(void *v)
{
	free(v);
}

/* ---- the sticky-agent map: bounded (ACD_STICKY_MAX per tenant, the
 * oldest answer dropped first) and pruned of callers answered longer ago
 * than the tenant's longest sticky.within_days (no queue is sticky: none
 * kept) ---- */

static void sticky_unlink(struct tenant *t, struct sticky *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		t->shead = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		t->stail = s->prev;
	s->prev = s->next = NULL;
}

/* in at_ms order, scanning from the tail: O(1) for an answer now */
static void sticky_link(struct tenant *t, struct sticky *s)
{
	struct sticky *p = t->stail;

	while (p && p->at_ms > s->at_ms)
		p = p->prev;
	s->prev = p;
	s->next = p ? p->next : t->shead;
	if (s->next)
		s->next->prev = s;
	else
		t->stail = s;
	if (p)
		p->next = s;
	else
		t->shead = s;
}

static void sticky_drop_head(struct tenant *t)
{
	struct sticky *s = t->shead;

	sticky_unlink(t, s);
	cc_map_del(&t->sticky, s->caller);
	free(s);
}

/* now_ms < 0: only the size bound (the seed: its rows are in the window) */
static void sticky_prune(struct tenant *t, int64_t now_ms)
{
	if (now_ms >= 0 && t->configured) {
		int64_t horizon = now_ms - t->sticky_days * 86400000LL;

		while (t->shead && (t->sticky_days <= 0 || t->shead->at_ms < horizon))
			sticky_drop_head(t);
	}
	while (t->sticky.len > ACD_STICKY_MAX)
		sticky_drop_head(t);
}

static void sticky_learn(struct tenant *t, const char *caller, const char *ext, int64_t at_ms,
                         int64_t now_ms)
{
	struct sticky *s = cc_map_get(&t->sticky, caller);

	if (s && s->at_ms >= at_ms)
		return;
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		cpy(s->caller, sizeof(s->caller), caller);
		cc_map_put(&t->sticky, s->caller, s);
	} else {
		sticky_unlink(t, s);
	}
	cpy(s->ext, sizeof(s->ext), ext);
	s->at_ms = at_ms;
	sticky_link(t, s);
	sticky_prune(t, now_ms);
}

static void tenant_free(struct acd *a, struct tenant *t)
{
	for (size_t i = 0; i < t->entries.cap; i++)
		if (t->entries.slots[i].key)
			entry_free(a, t->entries.slots[i].value);
	for (size_t i = 0; i < t->agents.cap; i++)
		if (t->agents.slots[i].key) {
			struct agent *ag = t->agents.slots[i].value;

			timer_clear(a, &ag->tm);
			unwork_agent(a, ag);
			agent_free(ag);
		}
	for (size_t i = 0; i < t->n_queues; i++)
		free(t->queues[i].members);
	free(t->queues);
	cc_map_free(&t->qbyname, NULL);
	cc_map_free(&t->qbyid, NULL);
	cc_map_free(&t->agents, NULL);
	cc_map_free(&t->byext, NULL);
	cc_map_free(&t->entries, NULL);
	cc_map_free(&t->sticky, free_sticky);
	cc_map_free(&t->vipmap, NULL);
	free(t->vips);
	free(t->reasons);
	free(t);
}

void acd_free(struct acd *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->tenants.cap; i++)
		if (a->tenants.slots[i].key)
			tenant_free(a, a->tenants.slots[i].value);
	cc_map_free(&a->tenants, NULL);
	free(a->heap);
	free(a->ework);
	free(a->awork);
	free(a);
}

static int cmp_member(const void *x, const void *y)
{
	const struct member *m = x, *n = y;

	return (m->priority > n->priority) - (m->priority < n->priority);
}

static int cmp_since(const void *x, const void *y)
{
	const struct agent *p = *(struct agent *const *)x, *q = *(struct agent *const *)y;

	if (p->since_ms != q->since_ms)
		return p->since_ms < q->since_ms ? -1 : 1;
	return strcmp(p->id, q->id);
}

static void vip_lookup(struct tenant *t, struct entry *e)
{
	const struct acd_vip *v = *e->caller ? cc_map_get(&t->vipmap, e->caller) : NULL;

	e->vip = 0;
	*e->dedicated = 0;
	if (v && (!*v->queue || (e->q && strcmp(v->queue, e->q->cfg.name) == 0))) {
		e->vip = v->priority < 1 ? 1 : v->priority > 100 ? 100 : v->priority;
		cpy(e->dedicated, sizeof(e->dedicated), v->agent);
	}
}

static void entry_queued_event(struct acd *a, struct entry *e, int64_t now_ms)
{
	json_t *ev = call_event(e, CC_EV_QUEUED, now_ms);
	int pos = q_position(e->q, e), ew = expected_wait(e->q, pos);
	struct sticky *s = *e->caller ? cc_map_get(&e->t->sticky, e->caller) : NULL;

	json_object_set_new(ev, "position", json_integer(pos));
	json_object_set_new(ev, "expected_wait_s", ew < 0 ? json_null() : json_integer(ew));
	json_object_set_new(ev, "priority", json_integer(e->vip ? e->vip : e->priority));
	json_object_set_new(ev, "vip", json_boolean(e->vip > 0));
	if (s && e->q->cfg.sticky_within_days > 0 &&
	    now_ms - s->at_ms <= e->q->cfg.sticky_within_days * 86400000LL)
		json_object_set_new(ev, "sticky", json_string(s->ext));
	emit(a, e->t->id, CC_EV_QUEUED, ev);
}

/* Removes an agent that is no longer configured: logged out, its
 * reservation released. */
static void agent_drop(struct acd *a, struct agent *ag, int64_t now_ms)
{
	struct entry *e = ag->entry;

	if (e) {
		/* take it out of its entry's offer */
		size_t j = 0;

		for (size_t i = 0; i < e->n_ring; i++)
			if (e->ring[i] != ag)
				e->ring[j++] = e->ring[i];
		e->n_ring = j;
		if (!j) {
			if (a->out.cancel)
				a->out.cancel(a->out.arg, e->instance, e->call, e->offer);
			ring_clear(e);
			e->st = E_WAITING;
			work_entry(a, e);
		}
		ag->entry = NULL;
	}
	if (ag->state != ACD_LOGGED_OUT)
		agent_state(a, ag, ACD_LOGGED_OUT, "removed", 0, now_ms);
	timer_clear(a, &ag->tm);
	unwork_agent(a, ag);
	cc_map_del(&ag->t->agents, ag->id);
	agent_free(ag);
}

void acd_configure(struct acd *a, const struct acd_tenant_cfg *cfg, int64_t now_ms)
{
	struct tenant *t;
	struct queue *old, *nq;
	size_t n_old;
	struct entry **orphan = NULL;
	struct acd_target *orphan_to = NULL;
	size_t n_orphan = 0;

	if (!cfg || !*cfg->tenant || strlen(cfg->tenant) >= CC_UUID_LEN)
		return;
	t = tenant_make(a, cfg->tenant);
	if (!cpy(t->lang, sizeof(t->lang), cfg->lang))
		cpy(t->lang, sizeof(t->lang), "en");

	/* queues: runtime kept by id */
	old = t->queues;
	n_old = t->n_queues;
	nq = xcalloc(cfg->n_queues, sizeof(*nq));
	cc_map_free(&t->qbyname, NULL);
	cc_map_free(&t->qbyid, NULL);
	cc_map_init(&t->qbyname);
	cc_map_init(&t->qbyid);
	for (size_t i = 0; i < cfg->n_queues; i++) {
		struct queue *q = &nq[i];

		q->cfg = cfg->queues[i];
		q->cfg.name[ACD_NAME_MAX - 1] = q->cfg.id[CC_UUID_LEN - 1] = 0;
		if (q->cfg.n_required > ACD_SKILLS_MAX)
			q->cfg.n_required = ACD_SKILLS_MAX;
		q->t = t;
		q->idx = i;
		q->aht_ms = -1;
		if (!cc_map_get(&t->qbyname, q->cfg.name))
			cc_map_put(&t->qbyname, q->cfg.name, q);
		if (!cc_map_get(&t->qbyid, q->cfg.id))
			cc_map_put(&t->qbyid, q->cfg.id, q);
	}
	t->queues = nq;
	t->n_queues = cfg->n_queues;
	for (size_t i = 0; i < n_old; i++) {
		struct queue *o = &old[i], *q = cc_map_get(&t->qbyid, o->cfg.id);
		struct entry *e, *next;

		if (q && q->head == NULL && q->n == 0 && q->aht_ms < 0 && q->c.since_ms == 0) {
			q->head = o->head;
			q->tail = o->tail;
			q->n = o->n;
			q->rr = o->rr;
			q->aht_ms = o->aht_ms;
			q->c = o->c;
			for (e = q->head; e; e = e->next)
				e->q = q;
		} else {
			for (e = o->head; e; e = next) {
				next = e->next;
				orphan = xrealloc(orphan, (n_orphan + 1) * sizeof(*orphan));
				orphan_to = xrealloc(orphan_to, (n_orphan + 1) * sizeof(*orphan_to));
				orphan[n_orphan] = e;
				orphan_to[n_orphan++] = o->cfg.overflow;
				e->prev = e->next = NULL;
				e->q = NULL;
				t->n_waiting--;
			}
		}
		free(o->members);
	}
	free(old);

	/* VIPs, reasons */
	free(t->vips);
	t->vips = xcalloc(cfg->n_vips, sizeof(*t->vips));
	t->n_vips = cfg->n_vips;
	cc_map_free(&t->vipmap, NULL);
	cc_map_init(&t->vipmap);
	for (size_t i = 0; i < cfg->n_vips; i++) {
		t->vips[i] = cfg->vips[i];
		t->vips[i].e164[sizeof(t->vips[i].e164) - 1] = 0;
		t->vips[i].agent[ACD_EXT_MAX - 1] = t->vips[i].queue[ACD_NAME_MAX - 1] = 0;
		cc_map_put(&t->vipmap, t->vips[i].e164, &t->vips[i]);
	}
	free(t->reasons);
	t->n_reasons = cfg->n_pause_reasons;
	t->reasons = xcalloc(t->n_reasons, sizeof(*t->reasons));
	for (size_t i = 0; i < t->n_reasons; i++) {
		memcpy(t->reasons[i], cfg->pause_reasons[i], ACD_NAME_MAX);
		t->reasons[i][ACD_NAME_MAX - 1] = 0;
	}

	/* agents: runtime kept by id */
	/* every membership points into the old queues: dropped here, rebuilt
	 * below for the agents still configured */
	for (size_t i = 0; i < t->agents.cap; i++)
		if (t->agents.slots[i].key) {
			struct agent *ag = t->agents.slots[i].value;

			ag->configured = false;
			free(ag->mem);
			ag->mem = NULL;
			ag->n_mem = 0;
		}
	cc_map_free(&t->byext, NULL);
	cc_map_init(&t->byext);
	for (size_t i = 0; i < cfg->n_agents; i++) {
		const struct acd_agent_cfg *c = &cfg->agents[i];
		struct agent *ag;

		if (!*c->id || strlen(c->id) >= CC_UUID_LEN || !*c->ext || strlen(c->ext) >= ACD_EXT_MAX)
			continue;
		if (!(ag = cc_map_get(&t->agents, c->id)))
			ag = agent_new(t, c->id);
		if (ag->configured || cc_map_get(&t->byext, c->ext))
			continue;        /* a duplicate id or extension: the first */
		ag->configured = true;
		cpy(ag->ext, sizeof(ag->ext), c->ext);
		cpy(ag->team, sizeof(ag->team), c->team);
		cc_map_put(&t->byext, ag->ext, ag);
		free(ag->skills);
		ag->n_skills = c->n_skills > ACD_SKILLS_MAX ? ACD_SKILLS_MAX : c->n_skills;
		ag->skills = xcalloc(ag->n_skills, sizeof(*ag->skills));
		memcpy(ag->skills, c->skills, ag->n_skills * sizeof(*ag->skills));
		for (size_t k = 0; k < ag->n_skills; k++)
			ag->skills[k].name[ACD_NAME_MAX - 1] = 0;
		free(ag->mem);
		ag->mem = xcalloc(c->n_queues, sizeof(*ag->mem));
		ag->n_mem = 0;
		for (size_t k = 0; k < c->n_queues; k++) {
			struct member *m = &ag->mem[ag->n_mem];
			bool dup = false;

			if (c->queues[k].queue >= t->n_queues)
				continue;
			for (size_t j = 0; j < ag->n_mem; j++)
				dup |= ag->mem[j].queue == &t->queues[c->queues[k].queue];
			if (dup)
				continue;
			m->agent = ag;
			m->queue = &t->queues[c->queues[k].queue];
			m->priority = c->queues[k].priority;
			ag->n_mem++;
		}
		qsort(ag->mem, ag->n_mem, sizeof(*ag->mem), cmp_member);
	}
	/* members of each queue in the configuration's order, ready lists in ready order */
	for (size_t i = 0; i < cfg->n_agents; i++) {
		struct agent *ag = memchr(cfg->agents[i].ext, 0, ACD_EXT_MAX) ?
		                   agent_by_ext(t, cfg->agents[i].ext) : NULL;

		if (!ag || strcmp(ag->id, cfg->agents[i].id) != 0)
			continue;
		for (size_t k = 0; k < ag->n_mem; k++) {
			struct queue *q = ag->mem[k].queue;

			if (q->n_members == q->cap_members) {
				q->cap_members = q->cap_members ? 2 * q->cap_members : 8;
				q->members = xrealloc(q->members, q->cap_members * sizeof(*q->members));
			}
			ag->mem[k].pos = q->n_members;
			q->members[q->n_members++] = &ag->mem[k];
		}
	}
	{
		struct agent **ready = NULL, **gone = NULL;
		size_t n_ready = 0, n_gone = 0;

		for (size_t i = 0; i < t->agents.cap; i++) {
			struct agent *ag = t->agents.slots[i].key ? t->agents.slots[i].value : NULL;

			if (!ag)
				continue;
			if (!ag->configured) {
				gone = xrealloc(gone, (n_gone + 1) * sizeof(*gone));
				gone[n_gone++] = ag;
			} else if (ag->state == ACD_READY) {
				ready = xrealloc(ready, (n_ready + 1) * sizeof(*ready));
				ready[n_ready++] = ag;
			}
		}
		if (n_ready)
			qsort(ready, n_ready, sizeof(*ready), cmp_since);
		for (size_t i = 0; i < n_ready; i++) {
			for (size_t k = 0; k < ready[i]->n_mem; k++)
				ready_add(&ready[i]->mem[k]);
			work_agent(a, ready[i]);
		}
		/* entries of restored or moved queues first, so dropped agents' releases find them */
		t->configured = true;
		t->sticky_days = 0;
		for (size_t i = 0; i < t->n_queues; i++)
			if (t->queues[i].cfg.sticky_within_days > t->sticky_days)
				t->sticky_days = t->queues[i].cfg.sticky_within_days;
		sticky_prune(t, now_ms);
		for (size_t i = 0; i < t->entries.cap; i++) {
			struct entry *e = t->entries.slots[i].key ? t->entries.slots[i].value : NULL;

			if (e && !e->q && !e->prev && !e->next) {
				bool orphaned = false;

				for (size_t k = 0; k < n_orphan; k++)
					orphaned |= orphan[k] == e;
				if (orphaned)
					continue;
				/* restored: its queue by id, else by name */
				struct queue *q = queue_by_id(t, e->qid);

				if (!q)
					q = cc_map_get(&t->qbyname, e->qname);
				if (!q) {
					struct acd_target h = hangup_target();

					orphan = xrealloc(orphan, (n_orphan + 1) * sizeof(*orphan));
					orphan_to = xrealloc(orphan_to, (n_orphan + 1) * sizeof(*orphan_to));
					orphan[n_orphan] = e;
					orphan_to[n_orphan++] = h;
					continue;
				}
				cpy(e->qid, sizeof(e->qid), q->cfg.id);
				cpy(e->qname, sizeof(e->qname), q->cfg.name);
				q_insert(q, e);
			}
		}
		for (size_t i = 0; i < n_gone; i++)
			agent_drop(a, gone[i], now_ms);
		free(ready);
		free(gone);
	}
	for (size_t i = 0; i < t->n_queues; i++)
		for (struct entry *e = t->queues[i].head; e; e = e->next) {
			vip_lookup(t, e);
			if (e->st == E_WAITING)
				max_wait_arm(a, e);
			/* not pushed: every ready agent is, and takes the first in order */
		}
	/* re-sort: a VIP list change moves classes (insertion sort, stable) */
	for (size_t i = 0; i < t->n_queues; i++) {
		struct queue *q = &t->queues[i];
		struct entry *e = q->head, *next;

		q->head = q->tail = NULL;
		q->n = 0;
		for (; e; e = next) {
			next = e->next;
			t->n_waiting--;
			q_insert(q, e);
		}
	}
	/* callers of queues that are gone: their old queue's overflow */
	for (size_t i = 0; i < n_orphan; i++) {
		struct entry *e = orphan[i];
		struct acd_target to = orphan_to[i];
		struct queue *q = to.type == ACD_TARGET_QUEUE ? cc_map_get(&t->qbyname, to.name) : NULL;

		if (e->n_ring)
			release_ring(a, e, true, now_ms);
		if (q) {
			/* straight into the target, a new arrival */
			e->moves++;
			e->arrival_ms = now_ms;
			cpy(e->qid, sizeof(e->qid), q->cfg.id);
			cpy(e->qname, sizeof(e->qname), q->cfg.name);
			q_insert(q, e);
			vip_lookup(t, e);
			e->st = *e->callback && e->st == E_CB_WAIT ? E_CB_WAIT : E_WAITING;
			max_wait_arm(a, e);
			entry_queued_event(a, e, now_ms);
			journal_entry(a, e, false, NULL);
			work_entry(a, e);
		} else {
			if (to.type == ACD_TARGET_NONE || to.type == ACD_TARGET_QUEUE)
				to = hangup_target();
			if (a->out.route)
				a->out.route(a->out.arg, e->instance, e->call, &to);
			entry_end(a, e, T_OVERFLOWED, &to, "no agents", NULL, NULL, now_ms);
		}
	}
	free(orphan);
	free(orphan_to);
	dispatch(a, now_ms);
}

void acd_forget(struct acd *a, const char *tenant, int64_t now_ms)
{
	struct tenant *t = tenant_get(a, tenant);
	struct acd_target h = hangup_target();

	if (!t)
		return;
	/* every entry, queued or restored and never placed (a tenant deleted
	 * while routingd was away) */
	for (size_t i = 0; i < t->entries.cap; i++)
		while (t->entries.slots[i].key) {
			struct entry *e = t->entries.slots[i].value;

			if (e->n_ring)
				release_ring(a, e, true, now_ms);
			if (a->out.route)
				a->out.route(a->out.arg, e->instance, e->call, &h);
			entry_end(a, e, T_OVERFLOWED, &h, "no agents", NULL, NULL, now_ms);
		}
	cc_map_del(&a->tenants, t->id);
	tenant_free(a, t);
}

/* ---- enqueue ---- */

static bool queue_accepts(struct queue *q, const char **why)
{
	if (q->cfg.max_size > 0 && q->n >= (size_t)q->cfg.max_size) {
		*why = "full";
		return false;
	}
	if (!staffed(q)) {
		*why = "no agents";
		return false;
	}
	return true;
}

static void answer_ok(struct entry *e, struct acd_enqueue_ans *ans)
{
	ans->ok = true;
	ans->why = NULL;
	ans->position = q_position(e->q, e);
	ans->expected_wait_s = expected_wait(e->q, ans->position);
	ans->queue = &e->q->cfg;
}

static bool valid_skills(const struct acd_skill *s, size_t n)
{
	if (n > ACD_SKILLS_MAX || (n && !s))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!memchr(s[i].name, 0, ACD_NAME_MAX) || !*s[i].name || s[i].level < 1 || s[i].level > 5)
			return false;
	return true;
}

void acd_enqueue(struct acd *a, const struct acd_enqueue *req, int64_t now_ms,
                 struct acd_enqueue_ans *ans)
{
	struct tenant *t = tenant_get(a, req ? req->tenant : NULL);
	struct queue *q;
	struct entry *e;
	const char *why;
	int moves = 0;

	memset(ans, 0, sizeof(*ans));
	ans->expected_wait_s = -1;
	ans->route = hangup_target();
	ans->why = "no such queue";
	if (!t || !t->configured || !req->call || !*req->call || strlen(req->call) >= CC_UUID_LEN ||
	    !req->instance || !*req->instance || strlen(req->instance) >= INST_MAX ||
	    (req->caller && strlen(req->caller) >= CC_E164_MAX + 2) || !req->queue ||
	    !valid_skills(req->skills, req->n_skills))
		return;
	if ((e = cc_map_get(&t->entries, req->call)) && e->q) {
		answer_ok(e, ans);           /* a retry of the same call */
		return;
	}
	if (e)
		return;                      /* restored, not placed: cannot be */
	if (!(q = cc_map_get(&t->qbyname, req->queue)))
		return;
	/* a queue that does not take the caller: its overflow, or a move */
	while (!queue_accepts(q, &why)) {
		struct acd_target over = q->cfg.overflow;
		struct queue *dst = NULL;
		json_t *ev;
		char name[200];

		if (streq(why, "full"))
			a->st.blocked++;
		if (over.type == ACD_TARGET_NONE)
			over = hangup_target();
		if (over.type == ACD_TARGET_QUEUE) {
			dst = cc_map_get(&t->qbyname, over.name);
			if (!dst || dst == q || moves + 1 > ACD_MOVES_MAX) {
				dst = NULL;
				over = hangup_target();
			}
		}
		snprintf(name, sizeof(name), "acd/%s/%s/blocked/%s/%d/%lld", t->id, req->call, q->cfg.id, moves,
		         (long long)now_ms);
		ev = envelope(t->id, CC_EV_OVERFLOWED, name, now_ms);
		json_object_set_new(ev, "call", json_string(req->call));
		json_object_set_new(ev, "queue", json_string(q->cfg.name));
		json_object_set_new(ev, "why", json_string(streq(why, "full") ? "max_size" : "no agents"));
		json_object_set_new(ev, "target", target_json(&over));
		json_object_set_new(ev, "wait_ms", json_integer(0));
		emit(a, t->id, CC_EV_OVERFLOWED, ev);
		counters_roll(q, now_ms);
		q->c.overflowed++;
		a->st.overflowed++;
		if (dst) {
			moves++;
			q = dst;
			continue;
		}
		ans->why = why;
		ans->route = over;
		return;
	}
	e = xcalloc(1, sizeof(*e));
	e->t = t;
	e->tm.idx = NOIDX;
	e->tm.kind = TM_ENTRY;
	e->tm.owner = e;
	e->ring = &e->ring1;
	cpy(e->call, sizeof(e->call), req->call);
	cpy(e->instance, sizeof(e->instance), req->instance);
	cpy(e->caller, sizeof(e->caller), req->caller ? req->caller : "");
	cpy(e->qname, sizeof(e->qname), q->cfg.name);
	cpy(e->qid, sizeof(e->qid), q->cfg.id);
	e->n_skills = req->n_skills;
	e->skills = xcalloc(e->n_skills, sizeof(*e->skills));
	if (e->n_skills)
		memcpy(e->skills, req->skills, e->n_skills * sizeof(*e->skills));
	e->priority = req->priority < 0 ? 0 : req->priority > 100 ? 100 : req->priority;
	e->first_ms = req->arrived_ms > 0 && req->arrived_ms <= now_ms ? req->arrived_ms : now_ms;
	e->arrival_ms = now_ms;
	e->moves = moves;
	e->seq = a->next_seq++;
	e->st = E_WAITING;
	e->q = q;
	vip_lookup(t, e);
	q_insert(q, e);
	cc_map_put(&t->entries, e->call, e);
	a->st.enqueued++;
	counters_roll(q, now_ms);
	q->c.offered++;
	max_wait_arm(a, e);
	answer_ok(e, ans);
	entry_queued_event(a, e, now_ms);
	journal_entry(a, e, false, NULL);
	work_entry(a, e);
	dispatch(a, now_ms);
	/* the answer's queue is where it is now (dispatch does not move it) */
}

int acd_position(const struct acd *a, const char *tenant, const char *call, struct acd_position *out)
{
	struct tenant *t = tenant_get(a, tenant);
	struct entry *e = t && call ? cc_map_get(&t->entries, call) : NULL;

	if (!e || !e->q)
		return ENOENT;
	out->position = q_position(e->q, e);
	out->expected_wait_s = expected_wait(e->q, out->position);
	return 0;
}

bool acd_holds(const struct acd *a, const char *tenant, const char *call, const char *instance,
               bool or_agent)
{
	struct tenant *t = tenant_get(a, tenant);
	const struct entry *e;

	if (!t || !call || !*call || !instance || !*instance)
		return false;
	if ((e = cc_map_get(&t->entries, call)))
		return streq(e->instance, instance);
	/* answered: the entry is gone, its agent holds the call until ended */
	for (size_t i = 0; or_agent && i < t->agents.cap; i++) {
		const struct agent *ag = t->agents.slots[i].value;

		if (t->agents.slots[i].key && ag->state == ACD_ON_CALL && !ag->other &&
		    streq(ag->call, call) && streq(ag->instance, instance))
			return true;
	}
	return false;
}

static bool valid_number(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 3 || n > CC_E164_MAX || s[0] != '+' || s[1] == '0')
		return false;
	for (size_t i = 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int acd_callback(struct acd *a, const char *tenant, const char *call, const char *number, int64_t now_ms)
{
	struct tenant *t = tenant_get(a, tenant);
	struct entry *e = t && call ? cc_map_get(&t->entries, call) : NULL;
	json_t *ev;

	if (!e || !e->q)
		return ENOENT;
	if (!e->q->cfg.callback)
		return EPERM;
	if (!valid_number(number))
		return EINVAL;
	if (e->st != E_WAITING)
		return EBUSY;                /* ringing an agent now, or a callback already */
	cpy(e->callback, sizeof(e->callback), number);
	timer_clear(a, &e->tm);          /* no max wait for a callback: the caller is gone */
	ev = call_event(e, CC_EV_CALLBACK_REQUESTED, now_ms);
	json_object_set_new(ev, "number", json_string(number));
	emit(a, t->id, CC_EV_CALLBACK_REQUESTED, ev);
	journal_entry(a, e, false, NULL);
	return 0;
}

/* ---- results ---- */

static void entry_ring_remove(struct entry *e, struct agent *ag)
{
	size_t j = 0;

	for (size_t i = 0; i < e->n_ring; i++)
		if (e->ring[i] != ag)
			e->ring[j++] = e->ring[i];
	e->n_ring = j;
	if (!j)
		ring_clear(e);
}

/* An offer to ag failed (miss: counts to missed_calls). */
static void agent_missed(struct acd *a, struct agent *ag, bool miss, int64_t now_ms)
{
	struct entry *e = ag->entry;

	if (e) {
		entry_ring_remove(e, ag);
		if (!e->n_ring && e->st == E_OFFERED) {
			e->st = E_WAITING;
			e->skip = ag;
			work_entry(a, e);
		}
	}
	ag->entry = NULL;
	if (miss) {
		a->st.missed++;
		if (++ag->missed >= ACD_MISSED_MAX) {
			ag->missed = 0;
			if (!ag->has_pending || ag->pending == ACD_READY) {
				ag->has_pending = true;
				ag->pending = ACD_NOT_READY;
				cpy(ag->pending_reason, sizeof(ag->pending_reason), "missed_calls");
			}
		}
	}
	agent_finish(a, ag, now_ms);
}

static struct queue *agent_queue(struct agent *ag)
{
	return queue_by_id(ag->t, ag->qid);
}

/* The agent's ACD call ended: wrap-up (the queue's wrapup_s), or straight on. */
static void agent_call_ended(struct acd *a, struct agent *ag, int64_t now_ms)
{
	struct queue *q = agent_queue(ag);
	int64_t talk = now_ms - ag->answered_ms;

	if (talk < 0)
		talk = 0;
	ag->talk_ms += talk;
	if (q)
		q->aht_ms = q->aht_ms < 0 ? talk : (q->aht_ms * 7 + talk) / 8;
	ag->entry = NULL;
	if (q && q->cfg.wrapup_s > 0) {
		ag->other = false;
		cpy(ag->wrap_call, sizeof(ag->wrap_call), ag->call);
		*ag->call = *ag->instance = 0;
		agent_state(a, ag, ACD_WRAPUP, "", now_ms + q->cfg.wrapup_s * 1000LL, now_ms);
		cpy(ag->qid, sizeof(ag->qid), q->cfg.id);
	} else {
		agent_finish(a, ag, now_ms);
	}
}

int acd_offer_taken(struct acd *a, const char *tenant, const char *call, const char *offer_id,
                    bool ok, int64_t now_ms)
{
	struct tenant *t = tenant_get(a, tenant);
	struct entry *e = t && call ? cc_map_get(&t->entries, call) : NULL;

	if (!e)
		return ENOENT;
	if (e->st != E_OFFERED || !streq(e->offer, offer_id))
		return ESTALE;
	if (!ok) {
		/* mediad has no such call: the entry is over */
		a->st.orphans++;
		entry_end(a, e, T_ENDED, NULL, NULL, NULL, NULL, now_ms);
		dispatch(a, now_ms);
		return 0;
	}
	for (size_t i = 0; i < e->n_ring; i++)
		if (e->ring[i]->state == ACD_RESERVED)
			agent_state(a, e->ring[i], ACD_RINGING, "",
			            now_ms + e->ring_s * 1000LL + ACD_RESERVE_MS, now_ms);
	return 0;
}

int acd_result(struct acd *a, const struct acd_result *r, int64_t now_ms)
{
	struct tenant *t = tenant_get(a, r ? r->tenant : NULL);
	struct entry *e;
	struct agent *ag;
	int rc = 0;

	if (!t || !r->call)
		return ENOENT;
	e = cc_map_get(&t->entries, r->call);
	ag = agent_by_ext(t, r->agent);
	switch (r->kind) {
	case ACD_ANSWERED:
		if (!ag) {
			a->st.stale++;
			return ESTALE;
		}
		if (ag->state == ACD_ON_CALL && !ag->other && streq(ag->call, r->call) && ag->epoch == r->epoch)
			return 0;                /* a retry */
		if (!e || ag->entry != e || ag->epoch != r->epoch ||
		    (ag->state != ACD_RESERVED && ag->state != ACD_RINGING) ||
		    (r->offer && *r->offer && !streq(r->offer, e->offer))) {
			a->st.stale++;
			return ESTALE;
		}
		/* the winner; every other agent of a ring_all goes back (mediad cancels their legs) */
		entry_ring_remove(e, ag);
		if (e->n_ring)
			release_ring(a, e, false, now_ms);
		ag->entry = NULL;
		ag->missed = 0;
		ag->calls++;
		ag->answered_ms = now_ms;
		ag->other = false;
		cpy(ag->call, sizeof(ag->call), e->call);
		cpy(ag->instance, sizeof(ag->instance), e->instance);
		agent_state(a, ag, ACD_ON_CALL, "", now_ms + ACD_CALL_MAX_MS, now_ms);
		cpy(ag->qid, sizeof(ag->qid), e->q->cfg.id);
		/* answered: the sticky map learns it (when a queue of the tenant is sticky) */
		if (*e->caller && t->sticky_days > 0)
			sticky_learn(t, e->caller, ag->ext, now_ms, now_ms);
		if (*e->callback) {
			e->st = E_CB_CONNECTING;     /* then mediad dials the customer */
			e->answered_ms = now_ms;
			cpy(e->cb_agent, sizeof(e->cb_agent), ag->ext); /* who connects it */
			timer_clear(a, &e->tm);
		} else {
			e->answered_ms = now_ms;
			entry_end(a, e, T_ANSWERED, NULL, NULL, ag->ext, r->leg, now_ms);
		}
		break;
	case ACD_FAILED:
		if (!ag || !e || ag->entry != e || ag->epoch != r->epoch ||
		    (ag->state != ACD_RESERVED && ag->state != ACD_RINGING)) {
			if (ag && ag->epoch != r->epoch)
				a->st.stale++;
			return 0;
		}
		if (streq(r->reason, "not registered")) {
			entry_ring_remove(e, ag);
			if (!e->n_ring && e->st == E_OFFERED) {
				e->st = E_WAITING;
				e->skip = ag;
				work_entry(a, e);
			}
			ag->entry = NULL;
			agent_state(a, ag, ACD_LOGGED_OUT, "unregistered", 0, now_ms);
		} else {
			agent_missed(a, ag, true, now_ms);
		}
		break;
	case ACD_ABANDONED:
		if (!e)
			return 0;
		if (*e->callback && e->st != E_CB_CONNECTING)
			return 0;                /* the caller hung up after asking for the callback */
		if (e->st == E_CB_CONNECTING) {
			struct agent *c = agent_by_ext(t, e->cb_agent);

			entry_end(a, e, T_ABANDONED, NULL, NULL, NULL, NULL, now_ms);
			if (c && c->state == ACD_ON_CALL && !c->other && streq(c->call, r->call))
				agent_finish(a, c, now_ms);
		} else {
			entry_end(a, e, T_ABANDONED, NULL, NULL, NULL, NULL, now_ms);
		}
		break;
	case ACD_ENDED:
		if (e && e->st == E_CB_CONNECTING) {
			char who[ACD_EXT_MAX];

			memcpy(who, e->cb_agent, sizeof(who));
			entry_end(a, e, T_ANSWERED, NULL, NULL, who, r->leg, now_ms);
		} else if (e && !(ag && ag->state == ACD_ON_CALL && !ag->other && streq(ag->call, r->call))) {
			entry_end(a, e, T_ABANDONED, NULL, NULL, NULL, NULL, now_ms);
		}
		if (ag && ag->state == ACD_ON_CALL && !ag->other && streq(ag->call, r->call) &&
		    (!r->epoch || r->epoch == ag->epoch))
			agent_call_ended(a, ag, now_ms);
		break;
	case ACD_CALLBACK_FAILED:
		if (!e || e->st != E_CB_CONNECTING)
			return 0;
		{
			struct agent *c = agent_by_ext(t, e->cb_agent);

			*e->cb_agent = 0;
			if (c && c->state == ACD_ON_CALL && !c->other && streq(c->call, e->call))
				agent_finish(a, c, now_ms);
			e->attempts++;
			if (e->attempts > e->q->cfg.callback_retries) {
				entry_end(a, e, T_ABANDONED, NULL, NULL, NULL, NULL, now_ms);
			} else {
				e->st = E_CB_WAIT;
				timer_set(a, &e->tm, now_ms + (e->q->cfg.callback_interval_s > 0 ?
				                              e->q->cfg.callback_interval_s : 60) * 1000LL);
				journal_entry(a, e, false, NULL);
			}
		}
		break;
	default:
		return EINVAL;
	}
	dispatch(a, now_ms);
	return rc;
}

/* ---- agents' inputs ---- */

static void view(const struct agent *ag, struct acd_agent_view *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	cpy(out->ext, sizeof(out->ext), ag->ext);
	out->state = ag->state;
	cpy(out->reason, sizeof(out->reason), ag->reason);
	out->since_ms = ag->since_ms;
	out->seq = ag->seq;
	out->has_pending = ag->has_pending;
	out->pending = ag->pending;
	cpy(out->pending_reason, sizeof(out->pending_reason), ag->pending_reason);
	cpy(out->call, sizeof(out->call), ag->state == ACD_WRAPUP ? ag->wrap_call : ag->call);
	if (ag->state == ACD_WRAPUP && ag->tm.idx != NOIDX)
		out->until_ms = ag->tm.at;
}

static bool reason_ok(const struct tenant *t, const char *r)
{
	if (!r || !*r)
		return false;
	if (t->n_reasons == 0) {
		for (size_t i = 0; i < CC_ARRAY_LEN(default_reasons); i++)
			if (strcmp(default_reasons[i], r) == 0)
				return true;
		return false;
	}
	for (size_t i = 0; i < t->n_reasons; i++)
		if (strcmp(t->reasons[i], r) == 0)
			return true;
	return false;
}

int acd_agent_set(struct acd *a, const char *tenant, const char *ext, enum acd_state want,
                  const char *reason, int64_t now_ms, struct acd_agent_view *out)
{
	struct tenant *t = tenant_get(a, tenant);
	struct agent *ag = t ? agent_by_ext(t, ext) : NULL;

	if (!ag)
		return ENOENT;
	if (want != ACD_READY && want != ACD_NOT_READY && want != ACD_LOGGED_OUT)
		return EINVAL;
	if (want == ACD_NOT_READY && !reason_ok(t, reason))
		return EINVAL;
	if (want != ACD_NOT_READY)
		reason = "";
	switch (ag->state) {
	case ACD_RESERVED:
	case ACD_RINGING:
	case ACD_ON_CALL:
		if (want == ACD_READY) {
			ag->has_pending = false;
			*ag->pending_reason = 0;
		} else {
			ag->has_pending = true;
			ag->pending = want;
			cpy(ag->pending_reason, sizeof(ag->pending_reason), reason);
		}
		journal_agent(a, ag);
		break;
	case ACD_WRAPUP:
	case ACD_READY:
	case ACD_NOT_READY:
	case ACD_LOGGED_OUT:
		if (ag->state == want && strcmp(ag->reason, reason) == 0)
			break;                   /* as asked already */
		if (want == ACD_READY && (ag->n_busy || ag->n_busy_more)) {
			ag->other = true;
			cpy(ag->call, sizeof(ag->call), ag->n_busy ? ag->busy[0] : "");
			agent_state(a, ag, ACD_ON_CALL, "", now_ms + ACD_CALL_MAX_MS, now_ms);
			break;
		}
		if (want == ACD_READY)
			ag->missed = 0;
		agent_state(a, ag, want, reason, 0, now_ms);
		break;
	}
	dispatch(a, now_ms);
	view(ag, out);
	return 0;
}

int acd_agent_get(const struct acd *a, const char *tenant, const char *ext, struct acd_agent_view *out)
{
	struct tenant *t = tenant_get(a, tenant);
	struct agent *ag = t ? agent_by_ext(t, ext) : NULL;

	if (!ag)
		return ENOENT;
	view(ag, out);
	return 0;
}

void acd_agent_registered(struct acd *a, const char *tenant, const char *ext, bool registered,
                          int64_t now_ms)
{
	struct tenant *t = tenant_get(a, tenant);
	struct agent *ag = t ? agent_by_ext(t, ext) : NULL;

	if (!ag || registered)
		return;
	switch (ag->state) {
	case ACD_LOGGED_OUT:
		break;
	case ACD_RESERVED:
	case ACD_RINGING:
		if (a->out.cancel && ag->entry)
			a->out.cancel(a->out.arg, ag->entry->instance, ag->entry->call, ag->entry->offer);
		ag->has_pending = true;
		ag->pending = ACD_LOGGED_OUT;
		cpy(ag->pending_reason, sizeof(ag->pending_reason), "unregistered");
		agent_missed(a, ag, false, now_ms);
		break;
	case ACD_ON_CALL:
		ag->has_pending = true;          /* nothing interrupts a call */
		ag->pending = ACD_LOGGED_OUT;
		cpy(ag->pending_reason, sizeof(ag->pending_reason), "unregistered");
		journal_agent(a, ag);
		break;
	default:
		agent_state(a, ag, ACD_LOGGED_OUT, "unregistered", 0, now_ms);
		break;
	}
	dispatch(a, now_ms);
}

void acd_agent_busy(struct acd *a, const char *tenant, const char *ext, const char *call,
                    bool busy, int64_t now_ms)
{
	struct tenant *t = tenant_get(a, tenant);
	struct agent *ag = t ? agent_by_ext(t, ext) : NULL;
	size_t i;

	if (!ag || !call || !*call || strlen(call) >= CC_UUID_LEN)
		return;
	for (i = 0; i < ag->n_busy && strcmp(ag->busy[i], call) != 0; i++)
		;
	if (busy) {
		if (i < ag->n_busy)
			return;
		/* beyond ACD_BUSY_MAX only counted: routingd reports each end
		 * once, after its start (calls.c), so an end of an id not kept
		 * is one of those; the agent is busy until the count is 0 too */
		if (ag->n_busy == ACD_BUSY_MAX)
			ag->n_busy_more++;
		else
			cpy(ag->busy[ag->n_busy++], CC_UUID_LEN, call);
		if (ag->state == ACD_READY) {
			ag->other = true;
			cpy(ag->call, sizeof(ag->call), call);
			agent_state(a, ag, ACD_ON_CALL, "", now_ms + ACD_CALL_MAX_MS, now_ms);
		} else if (ag->state == ACD_RESERVED || ag->state == ACD_RINGING) {
			/* it took another call while we offered one: the offer goes elsewhere */
			struct entry *e = ag->entry;

			if (a->out.cancel && e && e->n_ring == 1)
				a->out.cancel(a->out.arg, e->instance, e->call, e->offer);
			agent_missed(a, ag, false, now_ms);  /* -> on_call (other) via finish */
		}
	} else {
		if (i == ag->n_busy && !ag->n_busy_more)
			return;
		if (i == ag->n_busy) {
			ag->n_busy_more--;
		} else {
			memmove(ag->busy[i], ag->busy[i + 1], (ag->n_busy - i - 1) * sizeof(ag->busy[0]));
			ag->n_busy--;
		}
		if (ag->state == ACD_ON_CALL && ag->other) {
			if (ag->n_busy || ag->n_busy_more) {
				cpy(ag->call, sizeof(ag->call), ag->n_busy ? ag->busy[0] : "");
				journal_agent(a, ag);
			} else {
				agent_finish(a, ag, now_ms);
			}
		}
	}
	dispatch(a, now_ms);
}

/* ---- time ---- */

static void expire_agent(struct acd *a, struct agent *ag, int64_t now_ms)
{
	struct entry *e = ag->entry;

	switch (ag->state) {
	case ACD_RESERVED:           /* mediad never took the offer */
		if (a->out.cancel && e)
			a->out.cancel(a->out.arg, e->instance, e->call, e->offer);
		agent_missed(a, ag, false, now_ms);
		break;
	case ACD_RINGING:            /* RONA */
		if (a->out.cancel && e && e->n_ring == 1)
			a->out.cancel(a->out.arg, e->instance, e->call, e->offer);
		agent_missed(a, ag, true, now_ms);
		break;
	case ACD_ON_CALL:            /* never heard of again: released */
		a->st.orphans++;
		if ((e = cc_map_get(&ag->t->entries, ag->call)) && e->st == E_CB_CONNECTING &&
		    streq(e->cb_agent, ag->ext))
			entry_end(a, e, T_ABANDONED, NULL, NULL, NULL, NULL, now_ms);
		if (ag->other) {
			ag->n_busy = ag->n_busy_more = 0;
			agent_finish(a, ag, now_ms);
		} else {
			agent_call_ended(a, ag, now_ms);
		}
		break;
	case ACD_WRAPUP:
		agent_finish(a, ag, now_ms);
		break;
	default:
		timer_clear(a, &ag->tm);
		break;
	}
}

static void expire_entry(struct acd *a, struct entry *e, int64_t now_ms)
{
	timer_clear(a, &e->tm);
	if (e->st == E_CB_WAIT) {
		e->st = E_WAITING;
		e->skip = NULL;
		work_entry(a, e);
	} else if (e->st == E_WAITING || e->st == E_OFFERED) {
		overflow(a, e, "max_wait", &e->q->cfg.overflow, now_ms);
	}
}

void acd_tick(struct acd *a, int64_t now_ms)
{
	if (now_ms - a->sticky_pruned_ms >= STICKY_PRUNE_MS) {
		a->sticky_pruned_ms = now_ms;
		for (size_t i = 0; i < a->tenants.cap; i++)
			if (a->tenants.slots[i].key)
				sticky_prune(a->tenants.slots[i].value, now_ms);
	}
	while (a->n_heap && a->heap[0]->at <= now_ms) {
		struct timer *tm = a->heap[0];

		timer_clear(a, tm);
		if (tm->kind == TM_AGENT)
			expire_agent(a, tm->owner, now_ms);
		else
			expire_entry(a, tm->owner, now_ms);
	}
	dispatch(a, now_ms);
}

int64_t acd_next_deadline(const struct acd *a)
{
	return a->n_heap ? a->heap[0]->at : INT64_MAX;
}

/* ---- restart and reconciliation ---- */

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static bool jint(const json_t *o, const char *k, json_int_t lo, json_int_t hi, json_int_t *v)
{
	json_t *j = json_object_get(o, k);

	if (!j) {
		*v = lo > 0 ? lo : 0;
		return lo <= 0 && hi >= 0;
	}
	if (!json_is_integer(j))
		return false;
	*v = json_integer_value(j);
	return *v >= lo && *v <= hi;
}

/* "cc.acd.<tenant>.<kind>.<id>": tenant and id tokens of their buffers */
static int parse_subject(const char *s, char *tenant, char *kind, char *id)
{
	const char *p, *q, *r;
	size_t n;

	if (!s || strncmp(s, "cc.acd.", 7) != 0)
		return -1;
	p = s + 7;
	if (!(q = strchr(p, '.')) || !(r = strchr(q + 1, '.')))
		return -1;
	if ((n = (size_t)(q - p)) == 0 || n >= CC_UUID_LEN)
		return -1;
	memcpy(tenant, p, n);
	tenant[n] = 0;
	if ((n = (size_t)(r - q - 1)) == 0 || n >= 8)
		return -1;
	memcpy(kind, q + 1, n);
	kind[n] = 0;
	if ((n = strlen(r + 1)) == 0 || n >= CC_UUID_LEN || strchr(r + 1, '.'))
		return -1;
	memcpy(id, r + 1, n + 1);
	/* ids are tokens: a subject's bytes are not even UTF-8 otherwise */
	for (const char *c = s + 7; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '-' || *c == '_' || *c == '.'))
			return -1;
	return 0;
}

static int restore_agent(struct acd *a, struct tenant *t, const char *id, const json_t *rec, int64_t now_ms)
{
	struct agent *ag;
	enum acd_state st, pend = ACD_LOGGED_OUT;
	json_int_t since, seq, epoch, deadline, missed, calls, talk;
	const json_t *pj = json_object_get(rec, "pending");

	if (acd_state_parse(jstr(rec, "state"), &st) != 0 ||
	    !jint(rec, "since", 0, INT64_MAX / 4, &since) || !jint(rec, "seq", 0, INT64_MAX / 4, &seq) ||
	    !jint(rec, "epoch", 0, INT64_MAX / 4, &epoch) || !jint(rec, "deadline", 0, INT64_MAX / 4, &deadline) ||
	    !jint(rec, "missed", 0, ACD_MISSED_MAX, &missed) || !jint(rec, "calls", 0, INT64_MAX / 4, &calls) ||
	    !jint(rec, "talk_ms", 0, INT64_MAX / 4, &talk) ||
	    (pj && !json_is_null(pj) && acd_state_parse(json_string_value(pj), &pend) != 0) ||
	    strlen(jstr(rec, "ext")) >= ACD_EXT_MAX || strlen(jstr(rec, "reason")) >= ACD_NAME_MAX ||
	    strlen(jstr(rec, "pending_reason")) >= ACD_NAME_MAX || strlen(jstr(rec, "call")) >= CC_UUID_LEN ||
	    strlen(jstr(rec, "instance")) >= INST_MAX || strlen(jstr(rec, "queue")) >= CC_UUID_LEN)
		return EINVAL;
	if (!(ag = cc_map_get(&t->agents, id)))
		ag = agent_new(t, id);
	cpy(ag->ext, sizeof(ag->ext), jstr(rec, "ext"));
	ag->seq = (uint64_t)seq;
	ag->epoch = (uint64_t)epoch;
	ag->since_ms = since;
	ag->missed = (int)missed;
	ag->calls = (uint64_t)calls;
	ag->talk_ms = talk;
	ag->has_pending = pj && !json_is_null(pj) && (pend == ACD_NOT_READY || pend == ACD_LOGGED_OUT);
	ag->pending = pend;
	cpy(ag->pending_reason, sizeof(ag->pending_reason), jstr(rec, "pending_reason"));
	cpy(ag->reason, sizeof(ag->reason), jstr(rec, "reason"));
	*ag->call = *ag->instance = *ag->qid = 0;
	ag->other = false;
	timer_clear(a, &ag->tm);
	switch (st) {
	case ACD_RESERVED:
	case ACD_RINGING:
		/* its offer's epoch is stale: back to ready (or what it asked for) */
		if (ag->has_pending) {
			st = ag->pending;
			cpy(ag->reason, sizeof(ag->reason), ag->pending_reason);
			ag->has_pending = false;
		} else {
			st = ACD_READY;
			*ag->reason = 0;
		}
		ag->since_ms = now_ms;
		break;
	case ACD_ON_CALL:
	case ACD_WRAPUP:
		cpy(ag->call, sizeof(ag->call), jstr(rec, "call"));
		cpy(ag->instance, sizeof(ag->instance), jstr(rec, "instance"));
		cpy(ag->qid, sizeof(ag->qid), jstr(rec, "queue"));
		ag->other = json_is_true(json_object_get(rec, "other"));
		ag->answered_ms = since;
		timer_set(a, &ag->tm, deadline > 0 ? deadline : now_ms + (st == ACD_WRAPUP ? 0 : ACD_CALL_MAX_MS));
		if (ag->other) {
			/* the other call's end is reported again by its owner or swept */
			ag->n_busy = ag->n_busy_more = 0;
			if (*ag->call)
				cpy(ag->busy[ag->n_busy++], CC_UUID_LEN, ag->call);
		}
		break;
	default:
		break;
	}
	ag->state = st;
	return 0;
}

static int restore_entry(struct acd *a, struct tenant *t, const char *call, const json_t *rec, int64_t now_ms)
{
	struct entry *e = cc_map_get(&t->entries, call);
	json_int_t prio, arrival, first, seq, moves, attempts;
	const json_t *sk = json_object_get(rec, "skills"), *cb = json_object_get(rec, "callback");
	const char *k;
	json_t *v;

	if (json_is_true(json_object_get(rec, "ended"))) {
		if (e) {
			cc_map_del(&t->entries, call);
			entry_free(a, e);
		}
		return 0;
	}
	if (!jint(rec, "priority", 0, 100, &prio) || !jint(rec, "arrival", 1, INT64_MAX / 4, &arrival) ||
	    !jint(rec, "first", 0, INT64_MAX / 4, &first) || !jint(rec, "seq", 0, INT64_MAX / 4, &seq) ||
	    !jint(rec, "moves", 0, ACD_MOVES_MAX, &moves) || !jint(rec, "attempts", 0, 1000, &attempts) ||
	    !*jstr(rec, "queue") || strlen(jstr(rec, "queue")) >= ACD_NAME_MAX ||
	    strlen(jstr(rec, "queue_id")) >= CC_UUID_LEN || !*jstr(rec, "instance") ||
	    strlen(jstr(rec, "instance")) >= INST_MAX || strlen(jstr(rec, "caller")) >= CC_E164_MAX + 2 ||
	    (sk && !json_is_object(sk)) || (sk && json_object_size(sk) > ACD_SKILLS_MAX) ||
	    (cb && !json_is_null(cb) && !valid_number(json_string_value(cb))))
		return EINVAL;
	json_object_foreach((json_t *)sk, k, v)
		if (!*k || strlen(k) >= ACD_NAME_MAX || !json_is_integer(v) ||
		    json_integer_value(v) < 1 || json_integer_value(v) > 5)
			return EINVAL;
	if (!e) {
		e = xcalloc(1, sizeof(*e));
		e->t = t;
		e->tm.idx = NOIDX;
		e->tm.kind = TM_ENTRY;
		e->tm.owner = e;
		e->ring = &e->ring1;
		cpy(e->call, sizeof(e->call), call);
		cc_map_put(&t->entries, e->call, e);
	}
	cpy(e->qname, sizeof(e->qname), jstr(rec, "queue"));
	cpy(e->qid, sizeof(e->qid), jstr(rec, "queue_id"));
	cpy(e->instance, sizeof(e->instance), jstr(rec, "instance"));
	cpy(e->caller, sizeof(e->caller), jstr(rec, "caller"));
	e->priority = (int)prio;
	e->arrival_ms = arrival;
	e->first_ms = first > 0 && first <= arrival ? first : arrival;
	e->seq = (uint64_t)seq;
	if (e->seq >= a->next_seq)
		a->next_seq = e->seq + 1;
	e->moves = (int)moves;
	e->attempts = (int)attempts;
	*e->callback = 0;
	if (cb && !json_is_null(cb))
		cpy(e->callback, sizeof(e->callback), json_string_value(cb));
	free(e->skills);
	e->n_skills = sk ? json_object_size(sk) : 0;
	e->skills = xcalloc(e->n_skills, sizeof(*e->skills));
	size_t i = 0;
	json_object_foreach((json_t *)sk, k, v) {
		cpy(e->skills[i].name, ACD_NAME_MAX, k);
		e->skills[i++].level = (int)json_integer_value(v);
	}
	e->st = E_WAITING;
	return 0;
}

int acd_restore(struct acd *a, const char *subject, const json_t *rec, int64_t now_ms)
{
	char tenant[CC_UUID_LEN], kind[8], id[CC_UUID_LEN];
	struct tenant *t;

	if (parse_subject(subject, tenant, kind, id) != 0 || !json_is_object(rec))
		return EINVAL;
	if (strcmp(kind, "agent") != 0 && strcmp(kind, "entry") != 0)
		return 0;                    /* unknown records are ignored */
	t = tenant_get(a, tenant);
	if (t && t->configured)
		return EINVAL;               /* only before the tenant's configuration */
	t = tenant_make(a, tenant);
	return strcmp(kind, "agent") == 0 ? restore_agent(a, t, id, rec, now_ms)
	                                  : restore_entry(a, t, id, rec, now_ms);
}

/* mediad's calls by call id (the item; its tenant checked on lookup) */
static bool listed(const struct cc_map *calls, const char *tenant, const char *call, const char **acd)
{
	const json_t *c = call && *call ? cc_map_get(calls, call) : NULL;

	if (!c || !streq(json_string_value(json_object_get(c, "tenant")), tenant))
		return false;
	if (acd)
		*acd = json_string_value(json_object_get(c, "acd"));
	return true;
}

void acd_reconcile(struct acd *a, const char *instance, const json_t *calls, int64_t now_ms)
{
	struct cc_map byid;
	size_t ci;
	json_t *item;

	if (!instance || !json_is_array(calls))
		return;
	cc_map_init(&byid);
	json_array_foreach(calls, ci, item) {
		const char *id = json_string_value(json_object_get(item, "call"));

		if (id && *id)
			cc_map_put(&byid, id, item);
	}
	for (size_t ti = 0; ti < a->tenants.cap; ti++) {
		struct tenant *t = a->tenants.slots[ti].key ? a->tenants.slots[ti].value : NULL;
		struct entry **gone = NULL;
		size_t n_gone = 0;

		if (!t)
			continue;
		if (!t->configured) {
			/* restored for a tenant that was not configured again (deleted
			 * while routingd was away): its callers leave */
			struct acd_target h = hangup_target();

			for (size_t i = 0; i < t->entries.cap; i++)
				while (t->entries.slots[i].key &&
				       strcmp(((struct entry *)t->entries.slots[i].value)->instance, instance) == 0) {
					struct entry *e = t->entries.slots[i].value;

					a->st.orphans++;
					if (a->out.route && listed(&byid, t->id, e->call, NULL))
						a->out.route(a->out.arg, e->instance, e->call, &h);
					entry_end(a, e, T_OVERFLOWED, &h, "no agents", NULL, NULL, now_ms);
				}
			continue;
		}
		for (size_t i = 0; i < t->entries.cap; i++) {
			struct entry *e = t->entries.slots[i].key ? t->entries.slots[i].value : NULL;
			const char *acd = NULL;

			if (!e || strcmp(e->instance, instance) != 0)
				continue;
			if (!listed(&byid, t->id, e->call, &acd)) {
				gone = xrealloc(gone, (n_gone + 1) * sizeof(*gone));
				gone[n_gone++] = e;
			} else if (streq(acd, "ringing") && e->st != E_OFFERED && a->out.cancel) {
				/* ringing legs of an offer we no longer hold (a restart) */
				a->out.cancel(a->out.arg, instance, e->call, "");
			}
		}
		for (size_t i = 0; i < n_gone; i++) {
			struct entry *e = gone[i];
			struct agent *c = e->st == E_CB_CONNECTING ? agent_by_ext(t, e->cb_agent) : NULL;
			char call[CC_UUID_LEN];

			memcpy(call, e->call, sizeof(call));
			a->st.orphans++;
			entry_end(a, e, T_ENDED, NULL, NULL, NULL, NULL, now_ms);
			if (c && c->state == ACD_ON_CALL && !c->other && streq(c->call, call))
				agent_finish(a, c, now_ms);
		}
		free(gone);
		for (size_t i = 0; i < t->agents.cap; i++) {
			struct agent *ag = t->agents.slots[i].key ? t->agents.slots[i].value : NULL;

			if (ag && ag->configured && ag->state == ACD_ON_CALL && !ag->other &&
			    strcmp(ag->instance, instance) == 0 && !listed(&byid, t->id, ag->call, NULL) &&
			    !cc_map_get(&t->entries, ag->call)) {
				a->st.orphans++;
				agent_call_ended(a, ag, now_ms);
			}
		}
	}
	cc_map_free(&byid, NULL);
	dispatch(a, now_ms);
}

void acd_instance_lost(struct acd *a, const char *instance, int64_t now_ms)
{
	json_t *none = json_array();

	/* nothing of it is alive: the reconcile against no calls, but agents on
	 * its bridged calls go straight back (no wrap-up for a lost call) */
	for (size_t ti = 0; instance && ti < a->tenants.cap; ti++) {
		struct tenant *t = a->tenants.slots[ti].key ? a->tenants.slots[ti].value : NULL;

		for (size_t i = 0; t && t->configured && i < t->agents.cap; i++) {
			struct agent *ag = t->agents.slots[i].key ? t->agents.slots[i].value : NULL;

			if (ag && ag->state == ACD_ON_CALL && !ag->other && strcmp(ag->instance, instance) == 0 &&
			    !cc_map_get(&t->entries, ag->call))
				agent_finish(a, ag, now_ms);
		}
	}
	acd_reconcile(a, instance, none, now_ms);
	json_decref(none);
}

void acd_sticky_seed(struct acd *a, const char *tenant, const char *caller, const char *ext,
                     int64_t answered_ms)
{
	struct tenant *t = tenant_make(a, tenant && *tenant && strlen(tenant) < CC_UUID_LEN ? tenant : "_");

	if (!caller || !*caller || strlen(caller) >= CC_E164_MAX + 2 || !ext || !*ext || strlen(ext) >= ACD_EXT_MAX)
		return;
	sticky_learn(t, caller, ext, answered_ms, -1);
}

/* ---- views ---- */

static json_t *rfc(int64_t ms)
{
	char ts[CC_RFC3339_LEN];

	cc_rfc3339(ms * 1000, ts);
	return json_string(ts);
}

static json_t *agent_queues(const struct agent *ag)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < ag->n_mem; i++)
		json_array_append_new(arr, json_string(ag->mem[i].queue->cfg.name));
	return arr;
}

int acd_queue_waiting(const struct acd *a, const char *tenant, const char *queue)
{
	struct tenant *t = tenant_get(a, tenant);
	struct queue *q = t && queue ? cc_map_get(&t->qbyname, queue) : NULL;
	int n = 0;

	if (!q)
		return -1;
	for (struct entry *e = q->head; e; e = e->next)
		n++;
	return n;
}

json_t *acd_live_queue(const struct acd *a, const char *tenant, const char *queue, int64_t now_ms)
{
	struct tenant *t = tenant_get(a, tenant);
	struct queue *q = t && queue ? cc_map_get(&t->qbyname, queue) : NULL;
	json_t *w, *ags, *j;
	int pos = 0;
	struct counters c;
	int64_t longest;

	if (!q)
		return NULL;
	w = json_array();
	for (struct entry *e = q->head; e; e = e->next) {
		int ew = expected_wait(q, ++pos);

		json_array_append_new(w, json_pack("{s:s, s:s, s:i, s:i, s:I, s:o, s:s}",
			"call", e->call, "caller", e->caller, "position", pos,
			"priority", e->vip ? e->vip : e->priority,
			"waited_s", (json_int_t)((now_ms - e->first_ms) / 1000),
			"expected_wait_s", ew < 0 ? json_null() : json_integer(ew),
			"state", e->st == E_OFFERED ? "ringing" : *e->callback ? "callback" : "waiting"));
	}
	ags = json_array();
	for (size_t i = 0; i < q->n_members; i++) {
		const struct agent *ag = q->members[i]->agent;
		json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:I}", "extension", ag->ext,
			"state", acd_state_name(ag->state), "reason", ag->reason, "since", rfc(ag->since_ms),
			"calls", (json_int_t)ag->calls);

		/* the call it is on (the wallboard's monitor buttons name it) */
		if (*ag->call)
			json_object_set_new(o, "call", json_string(ag->call));
		json_array_append_new(ags, o);
	}
	c = q->c;
	if (c.since_ms != now_ms - ((now_ms % HALF_HOUR_MS) + HALF_HOUR_MS) % HALF_HOUR_MS) {
		memset(&c, 0, sizeof(c));
		c.since_ms = now_ms - ((now_ms % HALF_HOUR_MS) + HALF_HOUR_MS) % HALF_HOUR_MS;
	}
	longest = c.longest_wait_ms;
	for (struct entry *e = q->head; e; e = e->next)
		if (now_ms - e->first_ms > longest)
			longest = now_ms - e->first_ms;
	j = json_pack("{s:s, s:o, s:o, s:{s:o, s:I, s:I, s:I, s:I, s:I, s:I}}", "queue", q->cfg.name,
		"waiting", w, "agents", ags, "counters", "since", rfc(c.since_ms),
		"offered", (json_int_t)c.offered, "answered", (json_int_t)c.answered,
		"abandoned", (json_int_t)c.abandoned, "overflowed", (json_int_t)c.overflowed,
		"answered_in_sl", (json_int_t)c.answered_in_sl, "longest_wait_s", (json_int_t)(longest / 1000));
	return j;
}

static int cmp_ext(const void *x, const void *y)
{
	return strcmp((*(struct agent *const *)x)->ext, (*(struct agent *const *)y)->ext);
}

json_t *acd_live_agents(const struct acd *a, const char *tenant, int64_t now_ms)
{
	struct tenant *t = tenant_get(a, tenant);
	struct agent **v;
	size_t n = 0;
	json_t *arr;

	if (!t)
		return NULL;
	v = xcalloc(t->byext.len, sizeof(*v));
	for (size_t i = 0; i < t->byext.cap; i++)
		if (t->byext.slots[i].key)
			v[n++] = t->byext.slots[i].value;
	qsort(v, n, sizeof(*v), cmp_ext);
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o}", "extension", v[i]->ext,
			"state", acd_state_name(v[i]->state), "reason", v[i]->reason,
			"since", rfc(v[i]->since_ms), "queues", agent_queues(v[i]));

		if (*v[i]->call)
			json_object_set_new(o, "call", json_string(v[i]->call));
		if (v[i]->has_pending)
			json_object_set_new(o, "pending", json_string(acd_state_name(v[i]->pending)));
		json_array_append_new(arr, o);
	}
	free(v);
	return json_pack("{s:o}", "agents", arr);
}

void acd_stats(const struct acd *a, struct acd_stats *out)
{
	*out = a->st;
	out->waiting = out->agents = out->ready = out->reserved = 0;
	for (size_t ti = 0; ti < a->tenants.cap; ti++) {
		struct tenant *t = a->tenants.slots[ti].key ? a->tenants.slots[ti].value : NULL;

		if (!t)
			continue;
		out->waiting += t->n_waiting;
		out->sticky += t->sticky.len;
		for (size_t i = 0; i < t->agents.cap; i++) {
			struct agent *ag = t->agents.slots[i].key ? t->agents.slots[i].value : NULL;

			if (!ag || !ag->configured)
				continue;
			out->agents++;
			out->ready += ag->state == ACD_READY;
			out->reserved += ag->state == ACD_RESERVED || ag->state == ACD_RINGING;
		}
	}
}

/* ---- invariants ---- */

#define BAD(...) do { snprintf(why, len, __VA_ARGS__); return -1; } while (0)

int acd_check(const struct acd *a, int64_t now_ms, char *why, size_t len)
{
	for (size_t i = 0; i < a->n_heap; i++) {
		if (a->heap[i]->idx != i)
			BAD("heap index %zu", i);
		if (i && a->heap[(i - 1) / 2]->at > a->heap[i]->at)
			BAD("heap order at %zu", i);
	}
	for (size_t ti = 0; ti < a->tenants.cap; ti++) {
		struct tenant *t = a->tenants.slots[ti].key ? a->tenants.slots[ti].value : NULL;
		size_t waiting = 0, listed_n = 0;

		if (!t || !t->configured)
			continue;
		for (size_t i = 0; i < t->agents.cap; i++) {
			struct agent *ag = t->agents.slots[i].key ? t->agents.slots[i].value : NULL;
			bool timed;

			if (!ag)
				continue;
			if (!ag->configured)
				BAD("agent %s not configured", ag->id);
			timed = ag->tm.idx != NOIDX;
			switch (ag->state) {
			case ACD_READY:
			case ACD_NOT_READY:
			case ACD_LOGGED_OUT:
				if (timed || ag->entry)
					BAD("agent %s %s with a deadline or reservation", ag->ext, acd_state_name(ag->state));
				break;
			case ACD_RESERVED:
			case ACD_RINGING: {
				struct entry *e = ag->entry;
				bool in = false;

				if (!timed || !e)
					BAD("agent %s %s without deadline or entry", ag->ext, acd_state_name(ag->state));
				if (cc_map_get(&t->entries, e->call) != e || e->st != E_OFFERED)
					BAD("agent %s reserved for a gone or unoffered entry", ag->ext);
				for (size_t k = 0; k < e->n_ring; k++)
					in |= e->ring[k] == ag;
				if (!in)
					BAD("agent %s not in its entry's offer", ag->ext);
				break;
			}
			default:
				if (!timed || ag->entry)
					BAD("agent %s %s without deadline", ag->ext, acd_state_name(ag->state));
				break;
			}
			for (size_t k = 0; k < ag->n_mem; k++)
				if (ag->mem[k].in_ready != (ag->state == ACD_READY))
					BAD("agent %s ready list of %s", ag->ext, ag->mem[k].queue->cfg.name);
			if (ag->state == ACD_READY && (ag->n_busy || ag->n_busy_more))
				BAD("agent %s ready while busy", ag->ext);
		}
		for (size_t qi = 0; qi < t->n_queues; qi++) {
			struct queue *q = &t->queues[qi];
			size_t n = 0;

			for (struct entry *e = q->head; e; e = e->next) {
				n++;
				if (e->q != q || cc_map_get(&t->entries, e->call) != e)
					BAD("entry %s in %s not its own", e->call, q->cfg.name);
				if (e->next && before(e->next, e))
					BAD("queue %s out of order at %s", q->cfg.name, e->call);
				if ((e->next ? e->next->prev : q->tail) != e)
					BAD("queue %s links at %s", q->cfg.name, e->call);
				if (e->st == E_OFFERED) {
					if (!e->n_ring)
						BAD("entry %s offered to nobody", e->call);
					for (size_t k = 0; k < e->n_ring; k++) {
						struct agent *ag = e->ring[k];

						if (ag->entry != e || (ag->state != ACD_RESERVED && ag->state != ACD_RINGING))
							BAD("entry %s offer holds agent %s (%s)", e->call, ag->ext, acd_state_name(ag->state));
						for (size_t m = 0; m < k; m++)
							if (e->ring[m] == ag)
								BAD("entry %s offers %s twice", e->call, ag->ext);
					}
				} else if (e->st == E_WAITING) {
					struct agent *ded = agent_by_ext(t, e->dedicated);

					if (ded && ready_free(ded))
						BAD("VIP %s waits while its agent %s is ready", e->call, ded->ext);
					for (struct member *m = q->rhead; m; m = m->rnext)
						if (eligible(m->agent, e) >= 0)
							BAD("caller %s waits in %s while %s is ready", e->call,
							    q->cfg.name, m->agent->ext);
					if (q->cfg.max_wait_s > 0 && !*e->callback && e->tm.idx == NOIDX)
						BAD("entry %s without its max wait", e->call);
				} else if (e->st == E_CB_WAIT && e->tm.idx == NOIDX) {
					BAD("callback %s without its retry", e->call);
				} else if (e->st == E_CB_CONNECTING) {
					struct agent *c = agent_by_ext(t, e->cb_agent);

					if (c && c->state == ACD_READY)
						BAD("callback %s connecting with its agent %s ready", e->call, c->ext);
				}
			}
			if (n != q->n)
				BAD("queue %s counts %zu, holds %zu", q->cfg.name, q->n, n);
			waiting += n;
			for (struct member *m = q->rhead; m; m = m->rnext) {
				listed_n++;
				if (m->agent->state != ACD_READY || m->queue != q)
					BAD("ready list of %s holds %s", q->cfg.name, m->agent->ext);
			}
		}
		if (waiting != t->n_waiting || waiting != t->entries.len)
			BAD("tenant %s: %zu in queues, %zu counted, %zu entries", t->id, waiting, t->n_waiting,
			    t->entries.len);
		(void)listed_n;
	}
	(void)now_ms;
	return 0;
}
