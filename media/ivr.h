/*
 * ivr.h: running one call through a flow (lib/flow.h), as a pure state
 * machine: mediad feeds it what happened (the call started, a digit, a
 * prompt finished, a timer fired, an agent answered or failed, a flow was
 * loaded) and it answers with what to do (play, start a timer, ring an
 * agent, dial a number, load a flow, hang up, record an event). No I/O, no
 * clock: the caller passes the time and executes the actions in order, so
 * every branch of every node type is unit-tested without a network.
 *
 * One run per call, owned by the call (mediad's loop thread). The run keeps
 * a reference to nothing: the flow it runs is the caller's, and stays alive
 * as long as the run (the call holds it).
 */
#ifndef MD_IVR_H
#define MD_IVR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "flow.h"

#define IVR_MAX_ACTIONS 8
#define IVR_MAX_VARS    16
#define IVR_VAR_MAX     33           /* a collected value, with NUL */
#define IVR_MAX_GOTOS   8            /* goto hops per call (a loop between flows ends) */

enum ivr_input {
	IVR_START,          /* the call was answered: begin at the flow's start */
	IVR_DIGIT,          /* a DTMF digit (one of CC_FLOW_DIGITS) */
	IVR_PLAYED,         /* the last IVR_ACT_PLAY finished (all its prompts) */
	IVR_TIMEOUT,        /* the last IVR_ACT_TIMER fired */
	IVR_ANSWERED,       /* the leg of the last RING/DIAL answered (mediad bridges it) */
	IVR_FAILED,         /* that leg failed: not registered, busy, no answer, rejected */
	IVR_FLOW,           /* the flow asked by IVR_ACT_LOAD arrived (passed to ivr_on) */
	IVR_NO_FLOW,        /* it does not exist (any more): the call hangs up */
	IVR_REFUSED,        /* the ACD refused the queue node's caller and named no route:
	                       the node's fallback (added for issue 14) */
};

enum ivr_act_type {
	IVR_ACT_PLAY,       /* play prompts[0..n) in order; digits stop it when interruptible */
	IVR_ACT_STOP,       /* stop what plays (a digit barged in) */
	IVR_ACT_TIMER,      /* (re)start the one timer: ms from now; 0 cancels it */
	IVR_ACT_RING,       /* originate to agent extension `target`, ring `ring_s` */
	IVR_ACT_DIAL,       /* originate to PSTN number `target` ("+..."), ring `ring_s` */
	IVR_ACT_LOAD,       /* load the tenant's flow `target` (goto), then IVR_FLOW */
	IVR_ACT_HANGUP,     /* end the call (the flow is done) */
	IVR_ACT_EVENT,      /* record an `ivr` event: node, type, digit, var=value */
	IVR_ACT_QUEUE,      /* enqueue in the ACD's queue `target` (qnode: skills, priority);
	                       then IVR_ANSWERED (an agent bridged) or IVR_REFUSED */
};

struct ivr_action {
	enum ivr_act_type type;
	const char (*prompts)[CC_FLOW_NAME_MAX]; /* PLAY: into the flow's storage */
	size_t n_prompts;
	bool interruptible;
	int ms;                          /* TIMER */
	const char *target;              /* RING, DIAL, LOAD */
	int ring_s;
	/* EVENT */
	const char *node, *node_type;
	char digit[2];                   /* "" when none */
	const char *var;                 /* NULL when none */
	char value[IVR_VAR_MAX];
	const char *why;                 /* "timeout", "invalid", "closed", "failed", NULL */
	const struct cc_flow_node *qnode; /* QUEUE: the node (into the flow's storage) */
};

struct ivr_var {
	char name[CC_FLOW_NAME_MAX];
	char value[IVR_VAR_MAX];
};

struct ivr_run {
	const struct cc_flow *flow;
	int node;                        /* current node index */
	int attempt;                     /* menu/collect: 0 = first */
	enum { IVR_W_NONE, IVR_W_PLAY, IVR_W_INPUT, IVR_W_LEG, IVR_W_FLOW, IVR_W_DONE,
	       IVR_W_QUEUE /* in the ACD: mediad's queue.h */ } waiting;
	char digits[IVR_VAR_MAX];        /* collect: typed so far */
	size_t n_digits;
	int gotos;
	struct ivr_var vars[IVR_MAX_VARS];
	size_t n_vars;
	const char *tz;                  /* the tenant's zone, for schedules */
	/* added by ivr.c's author (meaning of the fields above unchanged) */
	bool replaying;                  /* menu/collect: the `invalid` prompt plays, then the prompt again */
	time_t deadline;                 /* when the timer set last may fire: an earlier IVR_TIMEOUT is stale */
	int pending;                     /* node to enter at the next IVR_TIMEOUT (a chain longer than one
	                                    output holds goes on after a 1 ms timer), or CC_FLOW_NO_NODE */	int stray;                       /* collect: keys this attempt that were neither digit nor terminator */
};

#define IVR_MAX_STRAY 3                  /* more such keys in one attempt: the attempt is invalid */

struct ivr_out {
	struct ivr_action a[IVR_MAX_ACTIONS];
	size_t n;
};

/* Starts a run of flow f for a tenant in zone tz (both outlive the run). */
void ivr_init(struct ivr_run *r, const struct cc_flow *f, const char *tz);

/*
 * Feeds one input at time now; out receives the actions to execute, in
 * order. digit is the key for IVR_DIGIT; flow the loaded flow for IVR_FLOW
 * (the run uses it from then on; the caller keeps it alive). Inputs that do
 * not apply where the run is (a digit while an agent rings, a timer while
 * a prompt plays) produce no action; a timer that fires before its time
 * only re-arms the timer for the rest of the wait. After IVR_ACT_HANGUP
 * every input is ignored.
 */
void ivr_on(struct ivr_run *r, enum ivr_input in, char digit, const struct cc_flow *flow,
            time_t now, struct ivr_out *out);

/* The run is over (it asked to hang up, or bridged a leg). */
bool ivr_done(const struct ivr_run *r);

#endif
