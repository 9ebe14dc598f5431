/*
 * ivr.c: one call's run through a flow (media/ivr.h), a pure state machine.
 *
 * The run is always at one node, waiting for one thing (r->waiting):
 *
 *   PLAY   a prompt plays: play nodes, and menu/collect prompts (and their
 *          `invalid` prompt, r->replaying); IVR_PLAYED moves on
 *   INPUT  menu/collect after their prompt: a digit, or the timer
 *   LEG    agent/number: the leg rings; IVR_ANSWERED ends the run
 *          (bridged), IVR_FAILED goes to the node's next
 *   FLOW   goto: the other flow is being loaded (IVR_FLOW / IVR_NO_FLOW)
 *   QUEUE  queue: the caller is in the ACD (mediad's media/queue.h);
 *          IVR_ANSWERED ends the run, IVR_REFUSED goes to the fallback
 *   DONE   hung up or bridged: every input is ignored
 *
 * Schedule and hangup nodes wait for nothing: entering them goes on
 * at once to the node they choose. The flow validator (lib/flow.c) refuses
 * a loop of such nodes, so every chain ends; a chain longer than one
 * output holds stops with a 1 ms timer and goes on at its IVR_TIMEOUT.
 *
 * Inputs that do not fit the state are dropped without an action: a digit
 * while an agent rings or a non-interruptible prompt plays, a PLAYED while
 * waiting for a key, a timer that fires before the deadline of the timer
 * set last (a stale one the caller failed to cancel, or a wall clock that
 * stepped back) only re-arms the timer for the rest of the wait, so no
 * wait is ever left without its deadline. So 200 digits in a second cost
 * 200 calls that each do at most one step.
 *
 * Not done on purpose: a digit that stops an interruptible play node is
 * not carried on to the next node (no type-ahead): it only skips the
 * announcement.
 */
#include "ivr.h"
#include "cc.h"

#include <string.h>

#define INTER_DIGIT_MS 3000   /* collect: the gap after a digit that ends the input */

/* ------------------------------------------------------------- output */

static struct ivr_action *push(struct ivr_out *out, enum ivr_act_type t)
{
	CC_BUG_ON(out->n >= IVR_MAX_ACTIONS);
	struct ivr_action *a = &out->a[out->n++];

	memset(a, 0, sizeof(*a));
	a->type = t;
	return a;
}

static struct ivr_action *event(struct ivr_run *r, struct ivr_out *out, const char *why)
{
	const struct cc_flow_node *n = &r->flow->nodes[r->node];
	struct ivr_action *a = push(out, IVR_ACT_EVENT);

	a->node = n->name;
	a->node_type = cc_flow_type_name(n->type);
	a->why = why;
	return a;
}

static void timer(struct ivr_run *r, struct ivr_out *out, int ms, time_t now)
{
	push(out, IVR_ACT_TIMER)->ms = ms;
	r->deadline = now + ms / 1000;
}

static void play(struct ivr_out *out, const char (*prompts)[CC_FLOW_NAME_MAX], size_t n, bool intr)
{
	struct ivr_action *a = push(out, IVR_ACT_PLAY);

	a->prompts = prompts;
	a->n_prompts = n;
	a->interruptible = intr;
}

static void hangup(struct ivr_run *r, struct ivr_out *out)
{
	push(out, IVR_ACT_HANGUP);
	r->waiting = IVR_W_DONE;
}

/* ------------------------------------------------------------- nodes */

static void enter(struct ivr_run *r, int node, time_t now, struct ivr_out *out);

/* To node, or hang up when there is none (CC_FLOW_NO_NODE). */
static void go(struct ivr_run *r, int node, time_t now, struct ivr_out *out)
{
	if (node == CC_FLOW_NO_NODE)
		return hangup(r, out);
	enter(r, node, now, out);
}

/* menu/collect: play the prompt (always interruptible), fresh input */
static void ask(struct ivr_run *r, struct ivr_out *out)
{
	const struct cc_flow_node *n = &r->flow->nodes[r->node];

	r->n_digits = 0;
	r->digits[0] = '\0';
	r->stray = 0;
	r->replaying = false;
	r->waiting = IVR_W_PLAY;
	play(out, n->prompts, 1, true);
}

/* A wrong key, too few digits or nothing in time: the next attempt, or
 * the node's default after the last one. */
static void attempt_failed(struct ivr_run *r, time_t now, struct ivr_out *out)
{
	const struct cc_flow_node *n = &r->flow->nodes[r->node];

	if (++r->attempt > n->retries)
		return go(r, n->dflt, now, out);
	r->n_digits = 0;
	r->digits[0] = '\0';
	if (!n->invalid[0])
		return ask(r, out);
	r->replaying = true;
	r->waiting = IVR_W_PLAY;
	/* the invalid prompt is short and not interruptible: a key pressed
	 * while it plays would otherwise answer a question not yet asked */
	play(out, &n->invalid, 1, false);
}

static void set_var(struct ivr_run *r, const char *name, const char *value)
{
	size_t i = 0;

	while (i < r->n_vars && strcmp(r->vars[i].name, name) != 0)
		i++;
	if (i == IVR_MAX_VARS)
		return;   /* more collect variables than a run keeps: the first ones stay */
	if (i == r->n_vars)
		r->n_vars++;
	snprintf(r->vars[i].name, sizeof(r->vars[i].name), "%s", name);
	snprintf(r->vars[i].value, sizeof(r->vars[i].value), "%s", value);
}

/* collect: the input is over (terminator, max, gap). */
static void collected(struct ivr_run *r, time_t now, struct ivr_out *out)
{
	const struct cc_flow_node *n = &r->flow->nodes[r->node];
	struct ivr_action *a;

	if ((int)r->n_digits < n->min_digits) {
		event(r, out, "invalid");
		return attempt_failed(r, now, out);
	}
	set_var(r, n->var, r->digits);
	a = event(r, out, NULL);
	a->var = n->var;
	snprintf(a->value, sizeof(a->value), "%s", r->digits);
	go(r, n->next, now, out);
}

/* Room an entry needs at most: its event, and two more actions (play and
 * nothing else; ring; load; hangup) plus a last hangup or timer. */
#define ENTRY_ROOM 4
_Static_assert(IVR_MAX_ACTIONS >= 3 + ENTRY_ROOM, "a digit's actions and one entry fit one output");

static void enter(struct ivr_run *r, int node, time_t now, struct ivr_out *out)
{
	const struct cc_flow_node *n;
	int wday, minute;
	int32_t day;
	bool open;

	if (out->n + ENTRY_ROOM > IVR_MAX_ACTIONS) {
		/* a long chain of schedule/queue nodes: go on after a 1 ms timer */
		r->pending = node;
		r->waiting = IVR_W_NONE;
		push(out, IVR_ACT_TIMER)->ms = 1;
		r->deadline = now;
		return;
	}
	r->node = node;
	r->attempt = 0;
	r->replaying = false;
	n = &r->flow->nodes[node];
	switch (n->type) {
	case CC_FLOW_PLAY:
		event(r, out, NULL);
		r->waiting = IVR_W_PLAY;
		return play(out, n->prompts, n->n_prompts, n->interruptible);
	case CC_FLOW_MENU:
	case CC_FLOW_COLLECT:
		event(r, out, NULL);
		return ask(r, out);
	case CC_FLOW_SCHEDULE:
		open = cc_flow_local_time(now, r->tz, &wday, &minute, &day) == CC_OK &&
		       cc_flow_schedule_open(n, wday, minute, day);
		event(r, out, open ? NULL : "closed");
		return enter(r, open ? n->open : n->closed, now, out);
	case CC_FLOW_AGENT:
	case CC_FLOW_NUMBER: {
		struct ivr_action *a;

		event(r, out, NULL);
		a = push(out, n->type == CC_FLOW_AGENT ? IVR_ACT_RING : IVR_ACT_DIAL);
		a->target = n->type == CC_FLOW_AGENT ? n->extension : n->number;
		a->ring_s = n->ring_s;
		r->waiting = IVR_W_LEG;
		return;
	}
	case CC_FLOW_GOTO:
		if (r->gotos >= IVR_MAX_GOTOS) {
			event(r, out, "goto limit");
			return hangup(r, out);
		}
		r->gotos++;
		event(r, out, NULL);
		push(out, IVR_ACT_LOAD)->target = n->flow;
		r->waiting = IVR_W_FLOW;
		return;
	case CC_FLOW_HANGUP:
		event(r, out, NULL);
		return hangup(r, out);
	case CC_FLOW_QUEUE: {
		/* the ACD's (routingd's): mediad holds the caller there until an
		 * agent is bridged (IVR_ANSWERED), or the ACD refuses without a
		 * route of its own (IVR_REFUSED: the fallback) */
		struct ivr_action *a;

		event(r, out, NULL);
		a = push(out, IVR_ACT_QUEUE);
		a->target = n->queue;
		a->qnode = n;
		r->waiting = IVR_W_QUEUE;
		return;
	}
	}
	CC_BUG_ON("unknown node type");
}

/* ------------------------------------------------------------- inputs */

static void on_digit(struct ivr_run *r, char d, time_t now, struct ivr_out *out)
{
	const struct cc_flow_node *n = &r->flow->nodes[r->node];
	const char *at = d ? strchr(CC_FLOW_DIGITS, d) : NULL;
	bool asking = n->type == CC_FLOW_MENU || n->type == CC_FLOW_COLLECT;
	struct ivr_action *a;

	if (!at || (r->waiting != IVR_W_PLAY && r->waiting != IVR_W_INPUT))
		return;                              /* not a key, or not listening */
	if (r->waiting == IVR_W_PLAY && n->type == CC_FLOW_PLAY) {
		if (!n->interruptible)
			return;                      /* dropped: this one is heard to the end */
		push(out, IVR_ACT_STOP);
		a = event(r, out, NULL);
		a->digit[0] = d;
		return go(r, n->next, now, out);
	}
	if (!asking || r->replaying)
		return;                              /* not asking now: ignored */
	push(out, r->waiting == IVR_W_PLAY ? IVR_ACT_STOP : IVR_ACT_TIMER);  /* barge-in, or the wait */
	r->deadline = now;
	r->waiting = IVR_W_INPUT;
	if (n->type == CC_FLOW_MENU) {
		int to = n->options[at - CC_FLOW_DIGITS];

		a = event(r, out, to == CC_FLOW_NO_NODE ? "invalid" : NULL);
		a->digit[0] = d;
		if (to == CC_FLOW_NO_NODE)
			return attempt_failed(r, now, out);
		return enter(r, to, now, out);
	}
	/* collect */
	if (n->terminator && d == n->terminator)
		return collected(r, now, out);
	if (d < '0' || d > '9') {
		/* a key that is not a digit nor the terminator: not part of the
		 * value; the wait goes on, but not for ever (a caller pressing '*'
		 * every few seconds would hold the node until the call's maximum
		 * length): past IVR_MAX_STRAY such keys the attempt is invalid */
		if (++r->stray > IVR_MAX_STRAY) {
			a = event(r, out, "invalid");
			a->digit[0] = d;
			return attempt_failed(r, now, out);
		}
		timer(r, out, r->n_digits ? INTER_DIGIT_MS : n->timeout_s * 1000, now);
		return;
	}
	a = event(r, out, NULL);
	a->digit[0] = d;
	r->digits[r->n_digits++] = d;
	r->digits[r->n_digits] = '\0';
	if ((int)r->n_digits >= n->max_digits)
		return collected(r, now, out);
	timer(r, out, INTER_DIGIT_MS, now);
}

static void on_played(struct ivr_run *r, time_t now, struct ivr_out *out)
{
	const struct cc_flow_node *n = &r->flow->nodes[r->node];

	if (r->waiting != IVR_W_PLAY)
		return;
	if (n->type == CC_FLOW_PLAY)
		return go(r, n->next, now, out);
	if (r->replaying)                        /* invalid said: ask again */
		return ask(r, out);
	r->waiting = IVR_W_INPUT;
	timer(r, out, n->timeout_s * 1000, now);
}

static void on_timeout(struct ivr_run *r, time_t now, struct ivr_out *out)
{
	const struct cc_flow_node *n;

	if (now < r->deadline) {
		/* early: an old timer the caller did not cancel, or the wall clock
		 * stepped back. Waiting states re-arm for the rest (at most a
		 * minute), so no wait is left without a timer */
		if (r->waiting == IVR_W_INPUT || (r->waiting == IVR_W_NONE && r->pending != CC_FLOW_NO_NODE)) {
			time_t left = r->deadline - now;

			push(out, IVR_ACT_TIMER)->ms = left > 60 ? 60000 : (int)left * 1000;
		}
		return;
	}
	if (r->waiting == IVR_W_NONE && r->pending != CC_FLOW_NO_NODE) {
		int to = r->pending;

		r->pending = CC_FLOW_NO_NODE;
		return enter(r, to, now, out);
	}
	if (r->waiting != IVR_W_INPUT)
		return;
	n = &r->flow->nodes[r->node];
	if (n->type == CC_FLOW_COLLECT && r->n_digits)
		return collected(r, now, out);       /* the gap after the last digit */
	event(r, out, "timeout");
	attempt_failed(r, now, out);
}

void ivr_init(struct ivr_run *r, const struct cc_flow *f, const char *tz)
{
	memset(r, 0, sizeof(*r));
	r->flow = f;
	r->node = CC_FLOW_NO_NODE;
	r->waiting = IVR_W_NONE;
	r->tz = tz;
	r->pending = CC_FLOW_NO_NODE;
}

void ivr_on(struct ivr_run *r, enum ivr_input in, char digit, const struct cc_flow *flow,
            time_t now, struct ivr_out *out)
{
	out->n = 0;
	if (r->waiting == IVR_W_DONE)
		return;
	if (in == IVR_START) {
		if (r->node == CC_FLOW_NO_NODE && r->waiting == IVR_W_NONE && r->pending == CC_FLOW_NO_NODE)
			enter(r, r->flow->start, now, out);
		return;
	}
	if (r->node == CC_FLOW_NO_NODE && r->pending == CC_FLOW_NO_NODE)
		return;                              /* not started */
	switch (in) {
	case IVR_DIGIT:
		return on_digit(r, digit, now, out);
	case IVR_PLAYED:
		return on_played(r, now, out);
	case IVR_TIMEOUT:
		return on_timeout(r, now, out);
	case IVR_ANSWERED:
		if (r->waiting == IVR_W_LEG || r->waiting == IVR_W_QUEUE)
			r->waiting = IVR_W_DONE;     /* bridged: mediad's from here */
		return;
	case IVR_REFUSED:
		if (r->waiting != IVR_W_QUEUE)
			return;
		event(r, out, "refused");
		return go(r, r->flow->nodes[r->node].fallback, now, out);
	case IVR_FAILED:
		if (r->waiting != IVR_W_LEG)
			return;
		event(r, out, "failed");
		return go(r, r->flow->nodes[r->node].next, now, out);
	case IVR_FLOW:
		if (r->waiting != IVR_W_FLOW || !flow)
			return;
		r->flow = flow;
		r->node = CC_FLOW_NO_NODE;
		return enter(r, flow->start, now, out);
	case IVR_NO_FLOW:
		if (r->waiting == IVR_W_FLOW)
			hangup(r, out);
		return;
	case IVR_START:
		return;
	}
}

bool ivr_done(const struct ivr_run *r)
{
	return r->waiting == IVR_W_DONE;
}
