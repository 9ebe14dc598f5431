/*
 * acd.h: the ACD's runtime (docs/ACD.md): agent states, reservations,
 * waiting callers and the sticky-agent map of every tenant, on routingd's
 * loop thread. Pure: no I/O, no clock (every call takes now_ms: wall-clock
 * milliseconds since the epoch, as events' ts and arrivals are), no
 * globals; what must leave (offers to mediad, events, journal records)
 * leaves through struct acd_out, called synchronously. So the property test
 * and the benchmark drive exactly the code routingd runs.
 *
 * Configuration (queues, agents' skills and memberships, VIPs, pause
 * reasons) is immutable, built by the loader from PostgreSQL into a
 * struct acd_tenant_cfg per tenant, and handed over with acd_configure after
 * each model swap; runtime is keyed by ids and survives a reconfiguration
 * (a deleted queue's callers overflow or are routed away, a deleted agent is
 * logged out).
 *
 * Invariants (acd_check asserts them): an agent holds at most one
 * reservation; no caller waits while an agent eligible for it is ready; an
 * entry ends on exactly one terminal event; every state but ready,
 * not_ready and logged_out has a deadline.
 */
#ifndef RT_ACD_H
#define RT_ACD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e164.h"
#include "id.h"

#define ACD_NAME_MAX       64       /* queue, skill, team, prompt, reason names with NUL */
#define ACD_EXT_MAX        12
#define ACD_SKILLS_MAX     16       /* skills of one agent or queue */
#define ACD_RING_ALL_MAX   32       /* agents rung at once by ring_all */
#define ACD_MISSED_MAX     2        /* missed offers in a row -> not_ready "missed_calls" */
#define ACD_RESERVE_MS     2000     /* an offer mediad did not take by then is released */
#define ACD_BUSY_MAX       8        /* other calls of one agent kept by id; more are counted */
#define ACD_STICKY_MAX     100000   /* sticky callers kept per tenant; the oldest answer goes first */

enum acd_state {
	ACD_LOGGED_OUT, ACD_READY, ACD_NOT_READY, ACD_RESERVED, ACD_RINGING, ACD_ON_CALL, ACD_WRAPUP,
};
const char *acd_state_name(enum acd_state s);      /* "logged_out" ... "wrapup" */
int acd_state_parse(const char *s, enum acd_state *out); /* 0, or -1 */

enum acd_strategy {
	ACD_RING_ALL, ACD_LONGEST_IDLE, ACD_ROUND_ROBIN, ACD_FEWEST_CALLS, ACD_LEAST_TALK_TIME,
	ACD_RANDOM, ACD_SKILLS,
};
const char *acd_strategy_name(enum acd_strategy s); /* "ring_all" ... "skills" */
int acd_strategy_parse(const char *s, enum acd_strategy *out);

enum acd_target_type { ACD_TARGET_NONE, ACD_TARGET_QUEUE, ACD_TARGET_AGENT, ACD_TARGET_NUMBER,
                       ACD_TARGET_FLOW, ACD_TARGET_HANGUP };

struct acd_target {
	enum acd_target_type type;
	char name[ACD_NAME_MAX];     /* queue/flow name, extension, "+E.164"; "" for hangup */
	char prompt[ACD_NAME_MAX];   /* hangup: the prompt played first ("" = goodbye) */
};

struct acd_skill {
	char name[ACD_NAME_MAX];
	int level;                   /* 1..5 */
};

/* ---- configuration (immutable, the loader's) ---- */

/* A recording policy (migration 0009, docs/RECORDING.md ## Policy):
 * INHERIT on a queue or an agent takes the next less specific one. */
enum acd_rec { ACD_REC_INHERIT = 0, ACD_REC_ALL, ACD_REC_NONE, ACD_REC_PERCENT };

struct acd_rec_policy {
	enum acd_rec mode;
	int percent;                 /* ACD_REC_PERCENT: 0..100 */
};

struct acd_queue_cfg {
	char id[CC_UUID_LEN];
	char name[ACD_NAME_MAX];
	enum acd_strategy strategy;
	int ring_timeout_s, wrapup_s;
	int max_wait_s, max_size;    /* 0: no limit */
	struct acd_target overflow;  /* ACD_TARGET_NONE: hang up with goodbye on time/size */
	char music[ACD_NAME_MAX];
	bool announce_position, announce_wait;
	int announce_every_s;
	int service_level_s;
	struct acd_skill required[ACD_SKILLS_MAX];
	size_t n_required;
	int sticky_within_days, sticky_ring_s; /* sticky off when within_days is 0 */
	bool callback;
	int callback_retries, callback_interval_s;
	struct acd_rec_policy rec;   /* INHERIT: the tenant's */
};

struct acd_membership {
	size_t queue;                /* index into acd_tenant_cfg.queues */
	int priority;                /* 1 is offered first */
};

struct acd_agent_cfg {
	char id[CC_UUID_LEN];        /* cc.agents.id */
	char ext[ACD_EXT_MAX];
	char team[ACD_NAME_MAX];
	struct acd_skill skills[ACD_SKILLS_MAX];
	size_t n_skills;
	struct acd_membership *queues;
	size_t n_queues;
	struct acd_rec_policy rec;   /* INHERIT: the queue's, else the tenant's */
};

struct acd_vip {
	char e164[CC_E164_MAX + 2];  /* "+8613900000888" */
	int priority;                /* 1..100: the class, higher first */
	char agent[ACD_EXT_MAX];     /* dedicated agent, "" none */
	char queue[ACD_NAME_MAX];    /* only in this queue, "" any */
};

struct acd_tenant_cfg {
	char tenant[CC_UUID_LEN];
	char lang[4];                /* "zh" | "en": announcements */
	struct acd_queue_cfg *queues;
	size_t n_queues;
	struct acd_agent_cfg *agents;
	size_t n_agents;
	struct acd_vip *vips;
	size_t n_vips;
	char (*pause_reasons)[ACD_NAME_MAX];
	size_t n_pause_reasons;
	struct acd_rec_policy rec;   /* the tenant's (never INHERIT once loaded: 'none') */
	uint64_t version;            /* changes whenever the loader rebuilt this tenant's cfg */
};

/* ---- what leaves the ACD ---- */

struct acd_offer {
	const char *tenant, *call, *instance; /* instance: the mediad holding the caller */
	char offer[CC_UUID_LEN];     /* new for each offer */
	const char *queue;           /* name */
	struct { char agent[ACD_EXT_MAX]; uint64_t epoch; } agents[ACD_RING_ALL_MAX];
	size_t n_agents;
	int ring_s;
	const char *callback;        /* a callback entry: the customer's number, else NULL */
};

struct acd_out {
	/* cc.rpc.media.<instance>.offer */
	void (*offer)(void *arg, const struct acd_offer *o);
	/* cc.rpc.media.<instance>.cancel: stop ringing offer (e.g. the reservation expired) */
	void (*cancel)(void *arg, const char *instance, const char *call, const char *offer);
	/* cc.rpc.media.<instance>.route: the caller leaves the ACD for target
	 * (overflow on time, size or no agents; never ACD_TARGET_QUEUE) */
	void (*route)(void *arg, const char *instance, const char *call, const struct acd_target *t);
	/* an event (taken over) on subject: cc.call.<tenant>.<type> or cc.agent.<tenant>.<state> */
	void (*event)(void *arg, const char *subject, json_t *ev);
	/* a journal record (taken over) on subject cc.acd.<tenant>.agent.<id> | .entry.<call> */
	void (*journal)(void *arg, const char *subject, json_t *rec);
	void *arg;
};

struct acd;

struct acd *acd_new(const struct acd_out *out, uint64_t seed);
void acd_free(struct acd *a);

/* Installs (or replaces) a tenant's configuration. cfg stays the caller's
 * and must live until the next acd_configure of that tenant or acd_forget.
 * Waiting callers of a queue that is gone take its overflow (or hang up);
 * agents that are gone are logged out. Then dispatches. */
void acd_configure(struct acd *a, const struct acd_tenant_cfg *cfg, int64_t now_ms);
/* A tenant deleted: its callers are routed to hangup, its agents forgotten. */
void acd_forget(struct acd *a, const char *tenant, int64_t now_ms);

/* ---- inputs from mediad ---- */

struct acd_enqueue {
	const char *tenant, *call, *instance;
	const char *queue;           /* name */
	const char *caller;          /* "+86..." or "" (withheld) */
	const struct acd_skill *skills; size_t n_skills; /* added to the queue's required */
	int priority;                /* 0..100 from the IVR node, 0 none */
	int64_t arrived_ms;          /* the call's answer time */
};

struct acd_enqueue_ans {
	bool ok;
	const char *why;             /* !ok: "no such queue", "full", "no agents" */
	struct acd_target route;     /* !ok and a target: where the caller goes */
	int position;                /* ok: 1 = next */
	int expected_wait_s;         /* ok: -1 unknown (no handling measured yet) */
	const struct acd_queue_cfg *queue; /* ok: music, announce, callback */
};

/* A caller entering a queue (a retry of the same call: the same answer).
 * An entry for a queue that overflows to another queue moves there. */
void acd_enqueue(struct acd *a, const struct acd_enqueue *req, int64_t now_ms,
                 struct acd_enqueue_ans *ans);

enum acd_result_kind { ACD_ANSWERED, ACD_FAILED, ACD_ABANDONED, ACD_ENDED, ACD_CALLBACK_FAILED };

struct acd_result {
	const char *tenant, *call;
	const char *offer;           /* "" for abandoned/ended */
	const char *agent;           /* extension, "" for abandoned */
	uint64_t epoch;
	enum acd_result_kind kind;
	int code;                    /* failed: SIP status */
	const char *reason;          /* failed: "no answer", "busy", "rejected", "not registered" */
	const char *leg;             /* answered: the leg's call id */
};

/* mediad's answer to an offer (cc.rpc.media.<instance>.offer): ok moves
 * its reserved agents to ringing (deadline ring_s + ACD_RESERVE_MS);
 * !ok ("no such call") ends the entry (counted in stats.orphans). Without
 * it a reservation expires after ACD_RESERVE_MS and the offer is
 * cancelled. 0, ENOENT (no such entry), ESTALE (another offer). */
int acd_offer_taken(struct acd *a, const char *tenant, const char *call, const char *offer,
                    bool ok, int64_t now_ms);

/* 0 (applied, or a retry of an applied result), or ESTALE: an answered leg
 * whose reservation is gone (mediad ends the leg). Then dispatches. */
int acd_result(struct acd *a, const struct acd_result *r, int64_t now_ms);

struct acd_position { int position; int expected_wait_s; };
/* 0 or ENOENT (the call is not waiting). */
int acd_position(const struct acd *a, const char *tenant, const char *call, struct acd_position *out);

/* Whether the ACD holds call of tenant for instance: an entry (waiting,
 * offered, a callback, or rebuilt from the journal) queued by that
 * instance, or (or_agent) an agent on that answered ACD call of that
 * instance. What routingd
 * checks a call it does not follow against (acdrpc.c: after a restart),
 * so an invented call id never becomes a caller. */
bool acd_holds(const struct acd *a, const char *tenant, const char *call, const char *instance,
               bool or_agent);

/* The waiting caller asked to be called back on number ("+..."): the entry
 * keeps its place and arrival. 0, ENOENT, EPERM (the queue has no callback). */
int acd_callback(struct acd *a, const char *tenant, const char *call, const char *number,
                 int64_t now_ms);

/* ---- inputs about agents ---- */

struct acd_agent_view {
	char ext[ACD_EXT_MAX];
	enum acd_state state;
	char reason[ACD_NAME_MAX];
	int64_t since_ms;
	uint64_t seq;
	bool has_pending; enum acd_state pending; char pending_reason[ACD_NAME_MAX];
	char call[CC_UUID_LEN];      /* the call it holds ("" none); in wrapup, the one it wraps up */
	int64_t until_ms;            /* wrapup: when it ends by itself, else 0 */
};

/* PUT .../agents/{ext}/state. 0, ENOENT (no such agent of the tenant),
 * EINVAL (a state one may not ask for, or an unknown pause reason). */
int acd_agent_set(struct acd *a, const char *tenant, const char *ext, enum acd_state want,
                  const char *reason, int64_t now_ms, struct acd_agent_view *out);
int acd_agent_get(const struct acd *a, const char *tenant, const char *ext,
                  struct acd_agent_view *out);
/* The phone's registration: registered false logs the agent out. */
void acd_agent_registered(struct acd *a, const char *tenant, const char *ext, bool registered,
                          int64_t now_ms);
/* A call of the agent that is not an ACD offer began (busy) or ended. */
void acd_agent_busy(struct acd *a, const char *tenant, const char *ext, const char *call,
                    bool busy, int64_t now_ms);

/* ---- time ---- */

/* Expires deadlines due at now_ms (reservations, rings, wrap-ups, max waits,
 * callback retries), then dispatches. */
void acd_tick(struct acd *a, int64_t now_ms);
/* The earliest deadline, INT64_MAX if none (routingd arms its timer). */
int64_t acd_next_deadline(const struct acd *a);

/* ---- restart and reconciliation ---- */

/* A journal record read back at start (subject, body); unknown ones are
 * ignored. Call before the tenants' acd_configure. 0 or EINVAL. */
int acd_restore(struct acd *a, const char *subject, const json_t *rec, int64_t now_ms);
/* instance's live calls (each {"call","tenant","acd"?}): entries and
 * reservations of that instance whose call is not there are ended (counted
 * in stats.orphans). */
void acd_reconcile(struct acd *a, const char *instance, const json_t *calls, int64_t now_ms);
/* instance is lost: its callers' entries end ("ended"), their agents are
 * released at once. */
void acd_instance_lost(struct acd *a, const char *instance, int64_t now_ms);

/* The sticky-agent map, seeded at start from the call records (a caller's
 * last answered queue call with the tenant, within the longest
 * sticky_within_days of its queues) and kept up by every answer after.
 * Bounded: at most ACD_STICKY_MAX callers per tenant (the oldest answer
 * dropped first), and callers answered longer ago than the tenant's
 * longest sticky_within_days are dropped (at configure, at each answer,
 * and by acd_tick once a minute; none kept when no queue is sticky). */
void acd_sticky_seed(struct acd *a, const char *tenant, const char *caller, const char *ext,
                     int64_t answered_ms);

/* ---- views ---- */

json_t *acd_live_queue(const struct acd *a, const char *tenant, const char *queue, int64_t now_ms);
/* Callers waiting in the tenant's queue (ringing ones too), -1 no such queue. */
int acd_queue_waiting(const struct acd *a, const char *tenant, const char *queue);
json_t *acd_live_agents(const struct acd *a, const char *tenant, int64_t now_ms);

struct acd_stats {
	uint64_t waiting, agents, ready, reserved;    /* now */
	uint64_t sticky;                              /* now: callers in the sticky maps */
	uint64_t enqueued, offers, answered, abandoned, overflowed, blocked, stale, orphans, missed;
	uint64_t dispatch_ns_max;                     /* the longest dispatch so far */
};
void acd_stats(const struct acd *a, struct acd_stats *out);

/* The invariants above; 0, or -1 with why filled. O(agents + callers). */
int acd_check(const struct acd *a, int64_t now_ms, char *why, size_t len);

#endif
