/*
 * call.c: one call's glue (call.h). A call is a mem object owned by the
 * list of calls; everything asynchronous it starts (a catalog lookup, a
 * deferred digit, a leg it places) holds a reference or is cancelled when
 * the call ends, so an answer that comes late finds a call that is over
 * and does nothing.
 *
 *   INVITE -> checks (sip.c) -> SDP answer made -> 180 at once -> flow
 *   version from the catalog -> 200 with the answer -> IVR_START
 *   the IVR's actions: PLAY (prompts from the catalog, then the player),
 *   STOP, TIMER, RING/DIAL (a leg to Kamailio, ring-back meanwhile), LOAD
 *   (a goto's flow), HANGUP, EVENT (an `ivr` event)
 *   digits (RFC 4733, in-band, INFO) are queued and fed to the IVR from a
 *   0 ms timer: in-band ones are found inside the mixer's tick, where
 *   nothing may change the mix.
 *
 * The call ends once: the caller hangs up (ivr_abandoned, or bridged), the
 * flow hangs up (ivr_ended), the agent of a bridge hangs up (bridged),
 * routingd asks, or mediad stops. Then media_ended is published with the
 * legs' RTP/RTCP figures, legs are ended (BYE, or CANCEL while ringing:
 * libre sends a BYE to a 200 that comes after the CANCEL), and the call
 * leaves the list.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "call.h"
#include "catalog.h"
#include "clock.h"
#include "ivr.h"
#include "leg.h"
#include "log.h"
#include "map.h"
#include "monitor.h"
#include "player.h"
#include "queue.h"
#include "recorder.h"
#include "rpc.h"

#define MAX_DIGITS_QUEUED 32

struct md_call;

struct md_out {                      /* mem object: an agent or PSTN leg placed */
	struct md_call *call;            /* weak: the call frees us before it goes */
	struct sipsess *sess;
	struct md_leg *leg;
	char id[CC_UUID_LEN];            /* its cc call id (X-CC-Call on its INVITE) */
	char target[MD_NUMBER_MAX];
	bool pstn;
	bool answered;
	struct tmr ring;                 /* ring timeout */
	/* an ACD leg (X-CC-Leg: acd): one of an offer's */
	bool acd;
	char agent[MD_Q_EXT_MAX];
	int64_t epoch;
	char offer[CC_UUID_LEN];
	struct sipnot *refer;            /* a REFER's subscription (its NOTIFYs) */
	bool consult;                    /* a consult transfer's target leg */
	/* a supervisor's leg (monitor.h): listen, whisper or barge */
	bool sup;
	enum md_mon_mode mode;
	struct tmr key_tmr;              /* its keys (4, 5, 6), handled off the mixer's tick */
	char keys[8];
	size_t n_keys;
	bool record;                     /* an ACD leg: the offer said record (routingd's policy) */
	struct tmr media_tmr;            /* answered: checks that its RTP still comes */
	bool far_holds;                  /* its last offer held the call (no RTP to expect) */
};

#define MD_MAX_OWN_FLOWS 4           /* flows made here (X-CC-Queue, routes) per call */

enum acd_state {
	ACD_NONE,                        /* not in a queue */
	ACD_ENQUEUING,                   /* enqueue sent, no answer yet */
	ACD_WAITING,                     /* queued: music; offers ring legs meanwhile */
	ACD_BRIDGED,                     /* an agent's leg is bridged */
	ACD_CALLBACK,                    /* `*`: collecting the number to call back */
	ACD_CALLBACK_DONE,               /* the callback is routingd's: goodbye, then hang up */
};

struct md_call {                     /* mem object */
	struct le le;                    /* in the list of calls */
	struct md_invite inv;            /* call, tenant, flow, domain, caller, called */
	int64_t since_us;
	uint64_t answered_ms, bridged_ms;  /* tmr_jiffies; 0: not yet */
	struct sipsess *sess;            /* the caller's */
	struct mbuf *answer;             /* our SDP answer, until the 200 */
	struct md_leg *leg;              /* the caller's RTP */
	struct md_mix *mix;
	struct md_player *player;
	struct md_out *out;              /* the leg ringing or bridged */
	struct md_bridge *bridge;
	struct md_flow *flows[IVR_MAX_GOTOS + 2];  /* held: the run points into them */
	size_t n_flows;
	struct ivr_run run;
	bool running;                    /* ivr_init done */
	struct tmr ivr_tmr;
	unsigned seq;                    /* the call's events */
	unsigned ivr_events;             /* its ivr events (at most MD_MAX_IVR_EVENTS) */
	uint64_t digit_ns;               /* when the last key came (cc_mono_ns) */
	uint64_t key_mark;               /* while a key's actions run: its time */
	uint64_t play_mark;              /* the play those actions started: the key's time */
	unsigned play_gen;               /* a PLAY's prompts answer this generation */
	struct md_prompt *loading[MD_PLAY_MAX];
	size_t n_loading, n_loaded;
	char digits[MAX_DIGITS_QUEUED];
	size_t n_digits;
	struct tmr digit_tmr;
	bool ended;
	int64_t answered_us;             /* wall clock of the 200 (the ACD's arrival) */
	/* the ACD (queue.h) */
	struct cc_flow *own[MD_MAX_OWN_FLOWS];
	size_t n_own;
	enum acd_state acd;
	bool enqueued;                   /* routingd took the entry (its answer came ok) */
	char queue[CC_FLOW_NAME_MAX];
	struct md_q_settings qs;
	uint64_t q_req;                  /* the enqueue or position request in flight */
	struct tmr ann_tmr;              /* the next announcement; the callback's collect */
	struct md_prompt *music;         /* the queue's music, loaded */
	bool music_on;                   /* it loops (waiting, or the caller is held) */
	size_t music_pos;                /* where it was when an announcement cut in */
	unsigned ann_gen;
	struct md_prompt *ann[MD_Q_PROMPTS];
	size_t n_ann, n_ann_loaded;
	struct md_out *alegs[MD_Q_MAX_LEGS];  /* the offer's legs ringing */
	size_t n_alegs;
	struct md_out *held;             /* the first 200: routingd's confirmation awaited */
	char offer[CC_UUID_LEN];
	bool on_hold;
	uint64_t hold_since;             /* tmr_jiffies */
	char cb_digits[20];
	size_t n_cb;
	/* a callback offer's call: no caller leg; the agent answers, then the
	 * customer (c->out, a pstn leg) is dialled; the agent's leg is c->leg */
	bool cb;
	struct md_out *agent_out;        /* the agent's answered leg (its session) */
	bool quiet;                      /* ends without a result (routingd knows) */
	struct md_q_target xfer;         /* a transfer's target (the API's, or a REFER's) */
	struct tmr xfer_tmr;
	/* a consult transfer: the caller on hold, the agent talks to the target */
	struct md_out *consult;          /* the target's leg, ringing or answered */
	struct md_bridge *cbridge;       /* holds it in the mix once answered */
	struct tmr consult_tmr;          /* its deadline */
	/* supervision: the supervisors' legs, ringing or in the mix (answered).
	 * The recorder's hook: md_call_sup_agent_side() (call.h), and
	 * sup_changed() below, called at every change of who hears whom */
	struct md_out *sups[MD_MON_MAX];
	size_t n_sups;
	struct md_rec *rec;              /* the recording being made (recorder.h), or NULL */
};

struct play_req {                    /* mem object: one prompt asked of the catalog */
	struct md_call *call;            /* referenced */
	unsigned gen;
	size_t idx;
};

static struct list calls;
static size_t n_calls;               /* calls' length, kept (the heartbeat's count) */
static struct cc_map domains;        /* tenant id -> its SIP domain (from its INVITEs) */

/* Callbacks handed to routingd: the caller has hung up, the entry is
 * routingd's, and mediad lists it in .calls (acd "callback") so routingd's
 * reconcile does not take it for a call mediad lost. Until its callback
 * call connected and ended, or a day passed. */
#define PARKED_MAX     10000
#define PARKED_KEEP_US (24LL * 3600 * 1000000)
struct parked {
	struct le le;
	char call[CC_UUID_LEN], tenant[CC_UUID_LEN], queue[CC_FLOW_NAME_MAX];
	int64_t since_us;
};
static struct list parked;

static void park(const struct md_call *c)
{
	struct parked *p;

	if (list_count(&parked) >= PARKED_MAX || !(p = calloc(1, sizeof(*p))))
		return;
	snprintf(p->call, sizeof(p->call), "%s", c->inv.call);
	snprintf(p->tenant, sizeof(p->tenant), "%s", c->inv.tenant);
	snprintf(p->queue, sizeof(p->queue), "%s", c->queue);
	p->since_us = cc_now_us();
	list_append(&parked, &p->le, p);
}

/* Drops the call's parked callback (call: that one; NULL: the expired). */
static void unpark(const char *call)
{
	int64_t now = cc_now_us();
	struct le *le = list_head(&parked);

	while (le) {
		struct parked *p = le->data;

		le = le->next;
		if (call ? !strcmp(p->call, call) : now - p->since_us > PARKED_KEEP_US) {
			list_unlink(&p->le);
			free(p);
		}
	}
}
static bool stopping;              /* md_calls_end_all ran: new calls get 503 */
static struct md_calls_stats stats;

static void feed(struct md_call *c, enum ivr_input in, char digit, const struct cc_flow *f);
static void call_end(struct md_call *c, const char *result);
static void acd_digit(struct md_call *c, char d);
static void acd_leg_estab(struct md_call *c, struct md_out *o);
static void acd_leg_failed(struct md_call *c, struct md_out *o, uint16_t code);
static void acd_hold(struct md_call *c, bool on);
static void acd_enqueue(struct md_call *c, const char *queue, const struct cc_flow_node *node);
static void cb_customer_failed(struct md_call *c, uint16_t code);
static void consult_drop(struct md_call *c);
static void consult_answered(struct md_call *c, struct md_out *o);
static void consult_failed(struct md_call *c, struct md_out *o, uint16_t code);
static void consult_complete(struct md_call *c);
static const char *target_type_name(enum md_q_target_type t);
static void xfer_event(struct md_call *c, const char *agent, const char *kind);
static void xfer_go_on(struct md_call *c);
static void out_drop(struct md_out *o);
static uint64_t acd_result(struct md_call *c, const char *result, const struct md_out *o,
                           uint16_t code, const char *reason, md_rpc_answer_h *h, void *arg);
static void mix_rules(struct md_call *c);
static void mon_failed(struct md_call *c, struct md_out *o, uint16_t code);
static void mon_answered(struct md_call *c, struct md_out *o);
static void mon_end_all(struct md_call *c, const char *reason);
static void rec_end(struct md_call *c);
static void rec_rules(struct md_call *c);

#define CLOG(lvl, c, ...) cc_log((lvl), 0, (c)->inv.tenant, (c)->inv.call, __VA_ARGS__)

/* ---- events -------------------------------------------------------------- */

static void event(struct md_call *c, enum cc_event_type t, json_t *fields)
{
	int err = md_rpc_event(t, c->inv.call, c->inv.tenant, ++c->seq, fields);

	if (err)
		cc_log(CC_LOG_WARN, err, c->inv.tenant, c->inv.call, "event %s not queued",
		       cc_event_name(t));
}

static json_t *leg_json(struct md_leg *leg)
{
	struct md_leg_stats st;

	md_leg_stats(leg, &st);
	return json_pack("{s:I,s:I,s:i,s:f}", "packets_in", (json_int_t)st.packets_in,
	                 "packets_out", (json_int_t)st.packets_out, "lost", st.lost,
	                 "jitter_ms", st.jitter_ms);
}

/* ---- the caller's session ------------------------------------------------ */

/* Out of the list of calls (n_calls follows it): once, whoever asks first. */
static void calls_unlink(struct md_call *c)
{
	if (c->le.list) {
		list_unlink(&c->le);
		n_calls--;
	}
}

static void call_destructor(void *arg)
{
	struct md_call *c = arg;

	tmr_cancel(&c->ivr_tmr);
	tmr_cancel(&c->digit_tmr);
	tmr_cancel(&c->ann_tmr);
	tmr_cancel(&c->xfer_tmr);
	tmr_cancel(&c->consult_tmr);
	calls_unlink(c);
	rec_end(c);
	for (size_t i = 0; i < c->n_sups; i++)
		mem_deref(c->sups[i]);
	mem_deref(c->cbridge);
	mem_deref(c->consult);
	mem_deref(c->bridge);
	for (size_t i = 0; i < c->n_alegs; i++)
		mem_deref(c->alegs[i]);
	mem_deref(c->held);
	mem_deref(c->agent_out);
	mem_deref(c->music);
	for (size_t i = 0; i < MD_Q_PROMPTS; i++)
		mem_deref(c->ann[i]);
	for (size_t i = 0; i < c->n_own; i++)
		cc_flow_free(c->own[i]);
	mem_deref(c->out);
	mem_deref(c->player);
	mem_deref(c->leg);
	mem_deref(c->mix);
	mem_deref(c->sess);
	mem_deref(c->answer);
	for (size_t i = 0; i < c->n_loading; i++)
		mem_deref(c->loading[i]);
	for (size_t i = 0; i < c->n_flows; i++)
		mem_deref(c->flows[i]);
}

static void on_digit_tmr(void *arg)
{
	struct md_call *c = arg;

	mem_ref(c);
	while (c->n_digits && !c->ended) {
		char d = c->digits[0];

		memmove(c->digits, c->digits + 1, --c->n_digits);
		if (c->acd == ACD_WAITING || c->acd == ACD_CALLBACK)
			acd_digit(c, d);
		else if (c->running)
			feed(c, IVR_DIGIT, d, NULL);
	}
	mem_deref(c);
}

/* A digit from the caller's leg: from RTP, INFO or inside the mixer tick. */
static void on_caller_digit(char digit, enum md_dtmf_src src, void *arg)
{
	struct md_call *c = arg;

	if (c->ended || c->n_digits >= MAX_DIGITS_QUEUED)
		return;
	CLOG(CC_LOG_DEBUG, c, "digit %c (%s)", digit, md_dtmf_src_name(src));
	c->digit_ns = md_leg_rx_ns();    /* an RTP key: when it arrived */
	c->digits[c->n_digits++] = digit;
	if (!tmr_isrunning(&c->digit_tmr))
		tmr_start(&c->digit_tmr, 0, on_digit_tmr, c);
}

static void on_info(struct sip *sip, const struct sip_msg *msg, void *arg)
{
	struct md_leg *leg = arg;

	if (msg_ctype_cmp(&msg->ctyp, "application", "dtmf-relay")) {
		if (md_dtmf_info(&leg->dtmf, (const char *)mbuf_buf(msg->mb),
		                 mbuf_get_left(msg->mb)) != 0) {
			(void)sip_treply(NULL, sip, msg, 400, "Bad DTMF Relay");
			return;
		}
		(void)sip_treply(NULL, sip, msg, 200, "OK");
		return;
	}
	(void)sip_treply(NULL, sip, msg, 415, "Unsupported Media Type");
}

static void on_caller_info(struct sip *sip, const struct sip_msg *msg, void *arg)
{
	struct md_call *c = arg;

	on_info(sip, msg, c->leg);
}

/* A re-INVITE with an offer (hold, a new codec): answered from the leg. */
static int on_caller_offer(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
	struct md_call *c = arg;

	return md_leg_answer(c->leg, msg->mb, descp);
}

static int on_caller_answer(const struct sip_msg *msg, void *arg)
{
	return 0;                        /* we never offer to the caller */
}

static void on_caller_estab(const struct sip_msg *msg, void *arg)
{
}

static void on_caller_close(int err, const struct sip_msg *msg, void *arg)
{
	struct md_call *c = arg;

	CLOG(CC_LOG_INFO, c, "caller hung up%s", err ? " (error)" : "");
	c->sess = mem_deref(c->sess);
	call_end(c, c->bridge ? "bridged" : "ivr_abandoned");
}

/* ---- legs mediad places -------------------------------------------------- */

static void out_destructor(void *arg)
{
	struct md_out *o = arg;

	tmr_cancel(&o->ring);
	tmr_cancel(&o->key_tmr);
	tmr_cancel(&o->media_tmr);
	mem_deref(o->refer);             /* NOTIFY terminated, if not sent yet */
	mem_deref(o->sess);              /* CANCEL while ringing, BYE once answered */
	mem_deref(o->leg);
}

static const char *fail_reason(uint16_t code)
{
	switch (code) {
	case 404: case 480: return "not registered";
	case 486: case 600: return "busy";
	case 408: case 487: return "no answer";
	default:            return "rejected";
	}
}

/* The leg did not answer: the event, then the IVR's next step. */
static void out_failed(struct md_call *c, uint16_t code)
{
	struct md_out *o = c->out;
	json_t *f = json_object();

	stats.legs_failed++;
	json_object_set_new(f, o->pstn ? "number" : "agent", json_string(o->target));
	json_object_set_new(f, "code", json_integer(code));
	json_object_set_new(f, "reason", json_string(fail_reason(code)));
	json_object_set_new(f, "leg", json_string(o->id));
	CLOG(CC_LOG_INFO, c, "%s %s failed: %u %s", o->pstn ? "number" : "agent", o->target,
	     code, fail_reason(code));
	c->out = mem_deref(o);
	md_player_silence(c->player);
	event(c, CC_EV_AGENT_FAILED, f);
	if (c->cb) {
		cb_customer_failed(c, code);
		return;
	}
	feed(c, IVR_FAILED, 0, NULL);
}

static void on_ring_timeout(void *arg)
{
	struct md_out *o = arg;

	if (o->sup) {
		if (o->call && !o->call->ended)
			mon_failed(o->call, o, 408);
		return;
	}
	if (o->consult && o->call && !o->call->ended) {
		consult_failed(o->call, o, 408);
		return;
	}
	if (o->acd && o->call && !o->call->ended) {
		acd_leg_failed(o->call, o, 408);
		return;
	}
	if (o->call && o->call->out == o)
		out_failed(o->call, 408);
}

static int on_out_offer(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
	struct md_out *o = arg;
	struct md_call *c = o->call;
	bool holds = md_queue_sdp_holds((const char *)mbuf_buf(msg->mb), mbuf_get_left(msg->mb));
	int err = md_leg_answer(o->leg, msg->mb, descp);

	if (!err)
		o->far_holds = holds;

	/* the agent's phone holds (a=sendonly/inactive) or takes back the caller */
	if (!err && c && !c->ended && c->out == o && c->bridge && !c->consult && holds != c->on_hold)
		acd_hold(c, holds);
	return err;
}

static int on_out_answer(const struct sip_msg *msg, void *arg)
{
	struct md_out *o = arg;

	return md_leg_answered(o->leg, msg->mb);
}

static void on_out_progress(const struct sip_msg *msg, void *arg)
{
}

static void on_out_close(int err, const struct sip_msg *msg, void *arg);

static unsigned rtp_timeout_s = 30;

void md_calls_set_rtp_timeout(unsigned seconds)
{
	rtp_timeout_s = seconds;
}

/* Once a second while the leg is up: a far end that has sent no RTP for
 * rtp_timeout_s (a browser closed without a BYE, a phone off the network)
 * is taken as hung up, so the caller is not left in silence and the agent
 * not on a call for ever (the ACD's wrap-up follows, as after a BYE). */
static void on_media_check(void *arg)
{
	struct md_out *o = arg;
	uint64_t quiet = md_leg_quiet_ms(o->leg);

	if (!o->sess || !o->call || o->call->ended || !rtp_timeout_s)
		return;
	if (!o->far_holds && quiet >= (uint64_t)rtp_timeout_s * 1000) {
		cc_log(CC_LOG_WARN, 0, o->call->inv.tenant, o->call->inv.call,
		       "%s %s (leg %s) sent no RTP for %llu ms: taken as hung up",
		       o->pstn ? "number" : "agent", o->target, o->id, (unsigned long long)quiet);
		stats.rtp_timeouts++;
		on_out_close(ETIMEDOUT, NULL, o);   /* BYE, then as its own hang-up */
		return;
	}
	tmr_start(&o->media_tmr, 1000, on_media_check, o);
}

static void on_out_estab(const struct sip_msg *msg, void *arg)
{
	struct md_out *o = arg;
	struct md_call *c = o->call;
	json_t *f;
	int err;

	if (rtp_timeout_s && !tmr_isrunning(&o->media_tmr))
		tmr_start(&o->media_tmr, 1000, on_media_check, o);
	if (o->sup) {
		if (c && !c->ended)
			mon_answered(c, o);
		return;
	}
	if (o->consult && c && !c->ended) {
		consult_answered(c, o);
		return;
	}
	if (o->acd && c && !c->ended) {
		acd_leg_estab(c, o);
		return;
	}
	if (!c || c->ended || c->out != o || o->answered)
		return;
	tmr_cancel(&o->ring);
	o->answered = true;
	stats.legs_answered++;
	md_player_silence(c->player);
	err = md_bridge_alloc(&c->bridge, c->mix, c->leg, o->leg);
	if (err) {
		cc_log(CC_LOG_ERR, err, c->inv.tenant, c->inv.call, "cannot bridge");
		call_end(c, "ivr_ended");
		return;
	}
	c->bridged_ms = tmr_jiffies();
	CLOG(CC_LOG_INFO, c, "bridged with %s %s (leg %s)", o->pstn ? "number" : "agent",
	     o->target, o->id);
	f = json_object();
	json_object_set_new(f, o->pstn ? "number" : "agent", json_string(o->target));
	json_object_set_new(f, "leg", json_string(o->id));
	event(c, CC_EV_BRIDGED, f);
	feed(c, IVR_ANSWERED, 0, NULL);
}

static void on_out_close(int err, const struct sip_msg *msg, void *arg)
{
	struct md_out *o = arg;
	struct md_call *c = o->call;

	o->sess = mem_deref(o->sess);
	if (o->sup) {
		if (c && !c->ended)
			mon_failed(c, o, o->answered ? 200 : msg && msg->scode >= 300 ? msg->scode : 480);
		return;
	}
	if (o->consult && c && !c->ended) {
		consult_failed(c, o, o->answered ? 200 : msg && msg->scode >= 300 ? msg->scode : 480);
		return;
	}
	if (c && !c->ended && c->out == o && c->consult && c->consult->answered) {
		/* the agent leaves an answered consult: the caller goes to the target */
		CLOG(CC_LOG_INFO, c, "agent %s hung up on the consult: completed", o->agent);
		consult_complete(c);
		return;
	}
	if (c && !c->ended && c->out == o && c->consult && o->answered) {
		/* the agent leaves a consult still ringing: the caller is not
		 * dropped but sent on to the target, as a blind transfer */
		CLOG(CC_LOG_INFO, c, "agent %s hung up on a ringing consult: blind to %s %s", o->agent,
		     target_type_name(c->xfer.type), c->xfer.name);
		consult_drop(c);
		acd_hold(c, false);          /* unheld: its time counted */
		mon_end_all(c, "transferred");
		xfer_event(c, o->agent, "blind");
		(void)acd_result(c, "ended", o, 0, "", NULL, NULL);
		rec_end(c);                  /* the next bridge decides anew */
		c->bridge = mem_deref(c->bridge);
		c->out = NULL;
		out_drop(o);
		md_member_hear_others(&c->leg->member);
		xfer_go_on(c);
		return;
	}
	if (c && !c->ended && c->agent_out == o) {
		CLOG(CC_LOG_INFO, c, "callback: agent %s hung up", o->agent);
		call_end(c, "bridged");
		return;
	}
	if (o->acd && c && !c->ended && c->out != o) {
		acd_leg_failed(c, o, o->answered ? 487 : msg && msg->scode >= 300 ? msg->scode : 480);
		return;
	}
	if (!c || c->ended || c->out != o)
		return;
	if (o->answered) {
		CLOG(CC_LOG_INFO, c, "%s %s hung up", o->pstn ? "number" : "agent", o->target);
		call_end(c, "bridged");
		return;
	}
	out_failed(c, msg && msg->scode >= 300 ? msg->scode : 480);
}

static void on_out_info(struct sip *sip, const struct sip_msg *msg, void *arg)
{
	struct md_out *o = arg;

	on_info(sip, msg, o->leg);
}

/* "X-CC-Vars: account=1234;...\r\n", what the IVR collected, for the
 * agent's screen pop (Kamailio passes it to agent legs only, checked
 * again there); only names and values of a safe form, at most 8, else "" */
static void desk_vars(const struct md_call *c, char *out, size_t n)
{
	size_t len = 0, k = 0;

	*out = 0;
	for (size_t i = 0; c->running && i < c->run.n_vars && k < 8; i++) {
		const char *name = c->run.vars[i].name, *v = c->run.vars[i].value;
		size_t nl = strlen(name), vl = strlen(v);
		int w;

		if (!nl || nl > 32 || !vl || vl > 64 || !(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z')) ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != nl ||
		    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+._-") != vl)
			continue;
		w = snprintf(out + len, n - len, "%s%s=%s", k ? ";" : "X-CC-Vars: ", name, v);
		if (w < 0 || (size_t)w >= n - len - 2) {
			*out = 0;
			return;
		}
		len += (size_t)w;
		k++;
	}
	if (k)
		snprintf(out + len, n - len, "\r\n");
}

static void place_leg(struct md_call *c, const char *target, int ring_s, bool pstn)
{
	struct md_out *o;
	struct mbuf *offer = NULL;
	char to[320], from[320], vars[640] = "";
	const char *routev[1] = { md_sip_route() };
	int err;

	c->out = mem_deref(c->out);
	o = mem_zalloc(sizeof(*o), out_destructor);
	if (!o)
		goto fail;
	o->call = c;
	o->pstn = pstn;
	tmr_init(&o->ring);
	snprintf(o->target, sizeof(o->target), "%s", target ? target : "");
	if (cc_uuid(o->id) != 0 || md_leg_alloc(&o->leg, NULL, NULL) != 0)
		goto fail;
	if (md_sip_uri(to, sizeof(to), o->target, c->inv.domain) ||
	    md_sip_uri(from, sizeof(from), c->inv.caller[0] ? c->inv.caller : "anonymous",
	               c->inv.domain))
		goto fail;
	if ((err = md_leg_offer(o->leg, &offer)) != 0)
		goto fail;
	c->out = o;
	if (!pstn)
		desk_vars(c, vars, sizeof(vars));
	err = sipsess_connect(&o->sess, md_sip_sock(), to, NULL, from, "mediad", routev, 1,
	                      "application/sdp", offer, NULL, NULL, false, on_out_offer,
	                      on_out_answer, on_out_progress, on_out_estab, on_out_info, NULL,
	                      on_out_close, o,
	                      "X-CC-Call: %s\r\nX-CC-Tenant: %s\r\nX-CC-Parent: %s\r\n"
	                      "X-CC-Leg: %s\r\n%s%s%s%s",
	                      o->id, c->inv.tenant, c->inv.call, pstn ? "pstn" : "agent", vars,
	                      md_sip_auth()[0] ? "X-CC-Auth: " : "", md_sip_auth(),
	                      md_sip_auth()[0] ? "\r\n" : "");
	mem_deref(offer);
	if (err) {
		cc_log(CC_LOG_WARN, err, c->inv.tenant, c->inv.call, "cannot place a leg to %s",
		       o->target);
		out_failed(c, 500);
		return;
	}
	stats.legs_placed++;
	tmr_start(&o->ring, (uint64_t)(ring_s > 0 ? ring_s : 20) * 1000, on_ring_timeout, o);
	md_player_ringback(c->player);
	CLOG(CC_LOG_INFO, c, "ringing %s %s (leg %s, %d s)", pstn ? "number" : "agent",
	     o->target, o->id, ring_s);
	return;
fail:
	if (o && c->out != o)
		mem_deref(o);
	else
		c->out = mem_deref(c->out);
	mem_deref(offer);
	cc_log(CC_LOG_WARN, 0, c->inv.tenant, c->inv.call, "cannot place a leg");
	/* the IVR moves on as for a leg that failed */
	{
		json_t *f = json_object();
		json_object_set_new(f, pstn ? "number" : "agent", json_string(target ? target : ""));
		json_object_set_new(f, "code", json_integer(500));
		json_object_set_new(f, "reason", json_string("rejected"));
		stats.legs_failed++;
		event(c, CC_EV_AGENT_FAILED, f);
		if (c->cb) {
			cb_customer_failed(c, 500);
			return;
		}
		feed(c, IVR_FAILED, 0, NULL);
	}
}

/* ---- the IVR's actions --------------------------------------------------- */

static void on_played(struct md_player *p, void *arg)
{
	struct md_call *c = arg;

	if (!c->ended && c->running)
		feed(c, IVR_PLAYED, 0, NULL);
}

static void loading_release(struct md_call *c)
{
	for (size_t i = 0; i < c->n_loading; i++)
		c->loading[i] = mem_deref(c->loading[i]);
	c->n_loading = c->n_loaded = 0;
}

static void play_req_destructor(void *arg)
{
	struct play_req *r = arg;

	mem_deref(r->call);
}

static void on_prompt(int err, struct md_prompt *p, void *arg)
{
	struct play_req *r = arg;
	struct md_call *c = r->call;

	if (c->ended || r->gen != c->play_gen || r->idx >= c->n_loading)
		return;
	if (err)
		CLOG(CC_LOG_WARN, c, "a prompt could not be loaded (%s): skipped",
		     err == ENOENT ? "none of that name" : "catalog unavailable");
	else
		c->loading[r->idx] = mem_ref(p);
	if (++c->n_loaded < c->n_loading)
		return;
	if (md_player_play(c->player, c->loading, c->n_loading, on_played, c) == 0)
		c->player->mark_ns = c->play_mark;
	c->play_mark = 0;
	loading_release(c);
}

static void act_play(struct md_call *c, const struct ivr_action *a)
{
	size_t n = a->n_prompts < MD_PLAY_MAX ? a->n_prompts : MD_PLAY_MAX;

	c->play_gen++;
	c->play_mark = c->key_mark;      /* a key led here: time it to the first frame */
	loading_release(c);
	md_player_silence(c->player);
	c->n_loading = n;
	if (!n) {
		md_player_play(c->player, NULL, 0, on_played, c);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct play_req *r = mem_zalloc(sizeof(*r), play_req_destructor);

		if (!r) {
			c->n_loaded++;
			continue;
		}
		r->call = mem_ref(c);
		r->gen = c->play_gen;
		r->idx = i;
		md_catalog_prompt(c->inv.tenant, a->prompts[i], on_prompt, r);
		mem_deref(r);                /* the catalog holds it until its answer */
	}
}

static void on_ivr_tmr(void *arg)
{
	struct md_call *c = arg;

	if (!c->ended && c->running)
		feed(c, IVR_TIMEOUT, 0, NULL);
}

static void on_named_flow(int err, struct md_flow *f, void *arg)
{
	struct md_call *c = arg;

	if (c->ended)
		return;
	if (err || c->n_flows >= CC_ARRAY_LEN(c->flows)) {
		CLOG(CC_LOG_WARN, c, "the flow a goto names is %s",
		     err == ENOENT ? "gone" : "not available");
		feed(c, IVR_NO_FLOW, 0, NULL);
		return;
	}
	c->flows[c->n_flows++] = mem_ref(f);
	feed(c, IVR_FLOW, 0, f->flow);
}

/* A call's ivr events are capped: a caller pressing keys for hours (or a
 * flow that goes round a menu with a 1 s timeout) would otherwise publish
 * without end, and every one lands in billingd's work and the call record.
 * The last one says "truncated"; the flow itself runs on as before. */
#define MD_MAX_IVR_EVENTS 200

static void act_event(struct md_call *c, const struct ivr_action *a)
{
	json_t *f;

	if (c->ivr_events >= MD_MAX_IVR_EVENTS)
		return;
	f = json_object();
	if (++c->ivr_events == MD_MAX_IVR_EVENTS) {
		json_object_set_new(f, "node", json_string(a->node ? a->node : ""));
		json_object_set_new(f, "why", json_string("truncated"));
		event(c, CC_EV_IVR, f);
		stats.ivr_truncated++;
		return;
	}

	json_object_set_new(f, "node", json_string(a->node ? a->node : ""));
	json_object_set_new(f, "node_type", json_string(a->node_type ? a->node_type : ""));
	if (a->digit[0])
		json_object_set_new(f, "digit", json_string(a->digit));
	if (a->var) {
		json_object_set_new(f, "var", json_string(a->var));
		json_object_set_new(f, "value", json_string(a->value));
	}
	if (a->why)
		json_object_set_new(f, "why", json_string(a->why));
	event(c, CC_EV_IVR, f);
}

static void execute(struct md_call *c, const struct ivr_out *out)
{
	for (size_t i = 0; i < out->n && !c->ended; i++) {
		const struct ivr_action *a = &out->a[i];

		switch (a->type) {
		case IVR_ACT_PLAY:
			act_play(c, a);
			break;
		case IVR_ACT_STOP:
			c->play_gen++;
			loading_release(c);
			md_player_stop(c->player);
			break;
		case IVR_ACT_TIMER:
			if (a->ms > 0)
				tmr_start(&c->ivr_tmr, (uint64_t)a->ms, on_ivr_tmr, c);
			else
				tmr_cancel(&c->ivr_tmr);
			break;
		case IVR_ACT_RING:
		case IVR_ACT_DIAL:
			place_leg(c, a->target, a->ring_s, a->type == IVR_ACT_DIAL);
			break;
		case IVR_ACT_LOAD:
			md_catalog_flow_named(c->inv.tenant, a->target, on_named_flow, c);
			break;
		case IVR_ACT_HANGUP:
			if (!c->bridge)
				call_end(c, "ivr_ended");
			break;
		case IVR_ACT_EVENT:
			act_event(c, a);
			break;
		case IVR_ACT_QUEUE:
			acd_enqueue(c, a->target, a->qnode);
			break;
		}
	}
}

static void feed(struct md_call *c, enum ivr_input in, char digit, const struct cc_flow *f)
{
	struct ivr_out out;

	if (c->ended || !c->running)
		return;
	memset(&out, 0, sizeof(out));
	mem_ref(c);
	ivr_on(&c->run, in, digit, f, time(NULL), &out);
	c->key_mark = in == IVR_DIGIT ? c->digit_ns : 0;
	execute(c, &out);
	c->key_mark = 0;
	/* the run takes no more keys (bridged, or hanging up): no in-band
	 * detector on the caller's audio */
	if (c->leg)
		md_leg_listen(c->leg, !ivr_done(&c->run));
	mem_deref(c);
}

/* ---- the ACD: a caller in a queue (queue.h, docs/ACD.md) ------------------ */

#define ACD_ENQUEUE_MS  10000        /* enqueue retried this long, then the fallback */
#define ACD_RESULT_MS   30000        /* a result is retried this long */
#define ACD_POSITION_MS 2000
#define ACD_COLLECT_MS  15000        /* the callback's number: keys within this */

#define REFUSE(why) json_pack("{s:b,s:s}", "ok", 0, "why", (why))

static const char *acd_state_name(const struct md_call *c)
{
	switch (c->acd) {
	case ACD_ENQUEUING:
	case ACD_WAITING:
		if (c->cb)
			return "callback";
		return c->n_alegs || c->held ? "ringing" : "queued";
	case ACD_BRIDGED:
		return "bridged";
	case ACD_CALLBACK:
	case ACD_CALLBACK_DONE:
		return "callback";
	case ACD_NONE:
		break;
	}
	return NULL;
}

/* A result for routingd (retried until answered; the call may be over by
 * then: nothing waits for it but a held leg's `answered`). */
static uint64_t acd_result(struct md_call *c, const char *result, const struct md_out *o,
                           uint16_t code, const char *reason, md_rpc_answer_h *h, void *arg)
{
	json_t *b = json_pack("{s:s,s:s,s:s,s:s,s:s}", "instance", md_rpc_instance(), "call",
	                      c->inv.call, "tenant", c->inv.tenant, "result", result,
	                      "offer", o ? o->offer : c->offer);

	json_object_set_new(b, "agent", json_string(o ? o->agent : ""));
	if (o) {
		json_object_set_new(b, "epoch", json_integer(o->epoch));
		json_object_set_new(b, "leg", json_string(o->id));
	} else {
		json_object_set_new(b, "epoch", json_null());
		json_object_set_new(b, "leg", json_string(""));
	}
	json_object_set_new(b, "code", json_integer(code));
	json_object_set_new(b, "reason", json_string(reason ? reason : ""));
	return md_rpc_request("cc.rpc.route.acd.result", b, ACD_RESULT_MS, h, arg);
}

/* -- music and announcements -- */

static void play_music(struct md_call *c);

static void on_music_done(struct md_player *p, void *arg)
{
	struct md_call *c = arg;

	c->music_pos = 0;
	if (!c->ended && c->music_on)
		play_music(c);
}

static void play_music(struct md_call *c)
{
	if (!c->music) {
		md_player_noise(c->player);  /* the music is loading (or there is none) */
		return;
	}
	if (md_player_play(c->player, &c->music, 1, on_music_done, c) == 0 &&
	    c->music_pos < c->music->n8)
		c->player->pos = c->music_pos * (c->player->last_rate == 16000 ? 2 : 1);
	c->music_pos = 0;
}

static void on_music(int err, struct md_prompt *p, void *arg)
{
	struct md_call *c = arg;

	if (c->ended)
		return;
	if (err) {
		CLOG(CC_LOG_WARN, c, "the queue's music %s cannot be loaded: comfort noise",
		     c->qs.music);
		return;
	}
	mem_deref(c->music);
	c->music = mem_ref(p);
	if (c->music_on && !md_player_busy(c->player))
		play_music(c);
	else if (c->music_on && c->player->kind == MD_PLAY_NOISE)
		play_music(c);
}

static void music_start(struct md_call *c)
{
	c->music_on = true;
	play_music(c);
	if (!c->music)
		md_catalog_prompt(c->inv.tenant, c->qs.music[0] ? c->qs.music : "hold_music",
		                  on_music, c);
}

static void music_stop(struct md_call *c)
{
	c->music_on = false;
	c->ann_gen++;
	md_player_silence(c->player);
}

static void ann_release(struct md_call *c)
{
	for (size_t i = 0; i < MD_Q_PROMPTS; i++)
		c->ann[i] = mem_deref(c->ann[i]);
	c->n_ann = c->n_ann_loaded = 0;
}

static void on_ann_tmr(void *arg);

static void ann_arm(struct md_call *c)
{
	if (c->acd == ACD_WAITING && c->qs.every_s > 0 && (c->qs.say_position || c->qs.say_wait))
		tmr_start(&c->ann_tmr, (uint64_t)c->qs.every_s * 1000, on_ann_tmr, c);
}

static void on_ann_played(struct md_player *p, void *arg)
{
	struct md_call *c = arg;

	if (c->ended || c->acd != ACD_WAITING)
		return;
	play_music(c);                  /* where it was */
}

struct ann_req {                     /* mem object: one announcement prompt asked */
	struct md_call *call;            /* referenced */
	unsigned gen;
	size_t idx;
};

static void ann_req_destructor(void *arg)
{
	mem_deref(((struct ann_req *)arg)->call);
}

static void on_ann_prompt(int err, struct md_prompt *p, void *arg)
{
	struct ann_req *r = arg;
	struct md_call *c = r->call;

	if (c->ended || r->gen != c->ann_gen || c->acd != ACD_WAITING || r->idx >= c->n_ann)
		return;
	if (err)
		CLOG(CC_LOG_WARN, c, "an announcement prompt is missing: skipped");
	else
		c->ann[r->idx] = mem_ref(p);
	if (++c->n_ann_loaded < c->n_ann)
		return;
	/* cut into the music where it is; it goes on from there afterwards */
	if (c->player->kind == MD_PLAY_PROMPTS && c->music && c->player->n == 1 &&
	    c->player->list[0] == c->music)
		c->music_pos = c->player->pos / (c->player->last_rate == 16000 ? 2 : 1);
	if (md_player_play(c->player, c->ann, c->n_ann, on_ann_played, c) != 0)
		play_music(c);
	ann_release(c);
}

static void announce(struct md_call *c)
{
	char names[MD_Q_PROMPTS][CC_FLOW_NAME_MAX];
	size_t n = md_queue_announce(&c->qs, names);

	ann_release(c);
	c->ann_gen++;
	c->n_ann = n;
	for (size_t i = 0; i < n; i++) {
		struct ann_req *r = mem_zalloc(sizeof(*r), ann_req_destructor);

		if (!r) {
			c->n_ann_loaded++;
			continue;
		}
		r->call = mem_ref(c);
		r->gen = c->ann_gen;
		r->idx = i;
		md_catalog_prompt(c->inv.tenant, names[i], on_ann_prompt, r);
		mem_deref(r);
	}
}

static void on_position(const json_t *a, void *arg)
{
	struct md_call *c = arg;
	struct md_q_target route;
	const char *why;

	if (c->ended || c->acd != ACD_WAITING)
		return;
	c->q_req = 0;
	if (a && md_queue_read_answer(a, false, &c->qs, &route, &why) == MD_Q_OK && !c->n_alegs &&
	    !c->held)
		announce(c);
	ann_arm(c);
}

static void on_ann_tmr(void *arg)
{
	struct md_call *c = arg;

	if (c->ended || c->acd != ACD_WAITING)
		return;
	if (c->q_req || c->n_alegs || c->held) {
		ann_arm(c);                  /* an agent rings: no announcement now */
		return;
	}
	c->q_req = md_rpc_request("cc.rpc.route.acd.position",
	                          json_pack("{s:s,s:s,s:s}", "instance", md_rpc_instance(), "call",
	                                    c->inv.call, "tenant", c->inv.tenant),
	                          ACD_POSITION_MS, on_position, c);
	if (!c->q_req)
		ann_arm(c);
}

/* -- entering and leaving -- */

/* Ends an ACD leg now (CANCEL while it rings, BYE once answered), even if
 * a request still holds the object (a held 200's `answered`). */
static void out_drop(struct md_out *o)
{
	if (!o)
		return;
	o->call = NULL;
	tmr_cancel(&o->ring);
	o->sess = mem_deref(o->sess);
	mem_deref(o);
}

/* Leaves the ACD's hold on the call: legs cancelled (BYE once answered),
 * music and timers stopped. */
static void acd_leave(struct md_call *c)
{
	for (size_t i = 0; i < c->n_alegs; i++) {
		out_drop(c->alegs[i]);
		c->alegs[i] = NULL;
	}
	c->n_alegs = 0;
	out_drop(c->held);
	c->held = NULL;
	tmr_cancel(&c->ann_tmr);
	md_rpc_forget(c->q_req);
	c->q_req = 0;
	ann_release(c);
	c->music_on = false;
	c->ann_gen++;
}

/* The call goes on with a flow of its own (a route): the IVR runs it. */
static void acd_run_flow(struct md_call *c, struct cc_flow *f)
{
	if (!f || c->n_own >= MD_MAX_OWN_FLOWS) {
		cc_flow_free(f);
		CLOG(CC_LOG_WARN, c, "no route mediad can take: the queue node's fallback");
		c->acd = ACD_NONE;
		feed(c, IVR_REFUSED, 0, NULL);
		return;
	}
	c->own[c->n_own++] = f;
	c->acd = ACD_NONE;
	md_player_silence(c->player);
	ivr_init(&c->run, f, c->run.tz);
	c->running = true;
	feed(c, IVR_START, 0, NULL);
}

static void on_enqueued(const json_t *a, void *arg)
{
	struct md_call *c = arg;
	struct md_q_target route;
	const char *why = "no answer";
	enum md_q_answer r;

	if (c->ended || c->acd != ACD_ENQUEUING)
		return;
	c->q_req = 0;
	r = a ? md_queue_read_answer(a, true, &c->qs, &route, &why) : MD_Q_BAD;
	if (r == MD_Q_OK) {
		c->acd = ACD_WAITING;
		c->enqueued = true;
		CLOG(CC_LOG_INFO, c, "queued in %s: position %d, music %s, %s", c->queue,
		     c->qs.position, c->qs.music, c->qs.lang);
		music_start(c);
		/* the first announcement soon: the caller hears the place at once */
		if (c->qs.every_s > 0 && (c->qs.say_position || c->qs.say_wait))
			tmr_start(&c->ann_tmr, 1500, on_ann_tmr, c);
		return;
	}
	CLOG(CC_LOG_INFO, c, "queue %s refused the call: %s", c->queue, why);
	acd_leave(c);
	c->acd = ACD_NONE;
	if (r == MD_Q_REFUSED && route.type != MD_QT_NONE && route.type != MD_QT_QUEUE) {
		acd_run_flow(c, md_queue_route_flow(&route));
		return;
	}
	feed(c, IVR_REFUSED, 0, NULL);
}

static void acd_enqueue(struct md_call *c, const char *queue, const struct cc_flow_node *node)
{
	char arrived[CC_RFC3339_LEN];

	cc_rfc3339(c->answered_us ? c->answered_us : cc_now_us(), arrived);
	snprintf(c->queue, sizeof(c->queue), "%s", queue);
	c->acd = ACD_ENQUEUING;
	memset(&c->qs, 0, sizeof(c->qs));
	c->qs.expected_wait_s = -1;
	snprintf(c->qs.lang, sizeof(c->qs.lang), "zh");
	md_player_noise(c->player);      /* not ring-back: a queue call hears no ringing */
	c->q_req = md_rpc_request("cc.rpc.route.acd.enqueue",
	                          md_queue_enqueue_json(md_rpc_instance(), c->inv.call,
	                                                c->inv.tenant, queue, c->inv.caller, node,
	                                                arrived),
	                          ACD_ENQUEUE_MS, on_enqueued, c);
	if (!c->q_req) {
		CLOG(CC_LOG_WARN, c, "cannot ask routingd to queue the call");
		c->acd = ACD_NONE;
		feed(c, IVR_REFUSED, 0, NULL);
	}
}

/* -- the recording (recorder.h): two taps of the call's mix, LEFT the
 * caller, RIGHT the agent's side (a consult's target, whispering and
 * barging supervisors); it ends with the agent's part of the call -- */

static void rec_rules(struct md_call *c)
{
	uint32_t right;

	if (!c->rec || !c->out || !c->leg)
		return;
	right = 1u << c->out->leg->member.slot | md_call_sup_agent_side(c);
	if (c->consult && c->consult->answered && c->consult->leg->member.mix)
		right |= 1u << c->consult->leg->member.slot;
	md_rec_hear(c->rec, MD_REC_LEFT, 1u << c->leg->member.slot);
	md_rec_hear(c->rec, MD_REC_RIGHT, right);
}

static int rec_start(struct md_call *c)
{
	struct md_rec_meta m = {
		.tenant = c->inv.tenant, .call = c->inv.call, .queue = c->queue,
		.agent = c->out ? c->out->agent : "", .caller = c->inv.caller, .callee = c->inv.called,
		/* a callback's customer was dialled by us: outbound */
		.direction = c->cb ? "outbound" : "inbound",
	};
	int err;

	if (c->rec)
		return EALREADY;
	if (!c->out || !c->leg || !c->mix)
		return EINVAL;
	if ((err = md_rec_alloc(&c->rec, c->mix->rate, &m)) != 0) {
		cc_log(CC_LOG_ERR, err, c->inv.tenant, c->inv.call, "cannot record");
		return err;
	}
	if ((err = md_rec_tap(c->rec, c->mix, 1u << c->leg->member.slot, 0)) != 0) {
		cc_log(CC_LOG_ERR, err, c->inv.tenant, c->inv.call, "cannot record: the mix is full");
		md_rec_abort(c->rec, "the mix is full");  /* its row: 'failed', not an empty 'complete' */
		c->rec = NULL;
		return err;
	}
	rec_rules(c);
	CLOG(CC_LOG_INFO, c, "recording %s", md_rec_id(c->rec));
	return 0;
}

static void rec_end(struct md_call *c)
{
	if (!c->rec)
		return;
	CLOG(CC_LOG_INFO, c, "recording %s ends", md_rec_id(c->rec));
	md_rec_stop(c->rec);
	c->rec = NULL;
}

/* -- the agents' legs -- */

static void aleg_remove(struct md_call *c, struct md_out *o)
{
	for (size_t i = 0; i < c->n_alegs; i++)
		if (c->alegs[i] == o) {
			memmove(&c->alegs[i], &c->alegs[i + 1], (c->n_alegs - i - 1) * sizeof(o));
			c->n_alegs--;
			return;
		}
}

static void cb_connect(struct md_call *c, struct md_out *o);

static void acd_bridge(struct md_call *c, struct md_out *o)
{
	json_t *f;
	int err;

	if (c->cb) {
		cb_connect(c, o);
		return;
	}
	c->held = NULL;                   /* its reference is c->out's now */
	acd_leave(c);                     /* the other legs: CANCEL (BYE to a later 200) */
	c->acd = ACD_BRIDGED;
	if (c->out != o)
		mem_deref(c->out);
	c->out = o;
	md_player_silence(c->player);
	err = md_bridge_alloc(&c->bridge, c->mix, c->leg, o->leg);
	if (err) {
		cc_log(CC_LOG_ERR, err, c->inv.tenant, c->inv.call, "cannot bridge");
		call_end(c, "bridged");
		return;
	}
	stats.legs_answered++;
	c->bridged_ms = tmr_jiffies();
	CLOG(CC_LOG_INFO, c, "queue %s: bridged with agent %s (leg %s)", c->queue, o->agent, o->id);
	f = json_object();
	json_object_set_new(f, "agent", json_string(o->agent));
	json_object_set_new(f, "leg", json_string(o->id));
	json_object_set_new(f, "queue", json_string(c->queue));
	event(c, CC_EV_BRIDGED, f);
	if (o->record)
		(void)rec_start(c);          /* routingd's policy; a failure does not stop the call */
	feed(c, IVR_ANSWERED, 0, NULL);
}

static void on_answered_ack(const json_t *a, void *arg)
{
	struct md_out *o = arg;
	struct md_call *c = o->call;

	if (!c || c->ended || c->held != o)
		return;
	if (json_is_true(json_object_get(a, "ok"))) {
		acd_bridge(c, o);
		return;
	}
	/* stale (another epoch), or routingd did not answer: that leg ends */
	CLOG(CC_LOG_INFO, c, "agent %s's answer is %s: BYE", o->agent, a ? "stale" : "unconfirmed");
	c->held = NULL;
	out_drop(o);
	if (c->cb && !c->n_alegs) {
		c->quiet = true;
		call_end(c, "ivr_ended");
		return;
	}
	if (!c->n_alegs && c->acd == ACD_WAITING)
		ann_arm(c);
}

static void acd_leg_estab(struct md_call *c, struct md_out *o)
{
	if (o->answered)
		return;
	tmr_cancel(&o->ring);
	o->answered = true;
	if (c->acd != ACD_WAITING || c->held) {
		/* another leg answered first: this one ends (BYE) */
		CLOG(CC_LOG_INFO, c, "agent %s answered second: BYE", o->agent);
		aleg_remove(c, o);
		out_drop(o);
		return;
	}
	/* held, not bridged, until routingd confirms (rule 4: first answer wins) */
	aleg_remove(c, o);
	c->held = o;
	CLOG(CC_LOG_INFO, c, "agent %s answered (leg %s): asking routingd", o->agent, o->id);
	if (!acd_result(c, "answered", o, 200, "", on_answered_ack, o)) {
		c->held = NULL;
		out_drop(o);
	}
}

static void acd_leg_failed(struct md_call *c, struct md_out *o, uint16_t code)
{
	const char *reason = md_queue_fail_reason(code);

	if (c->held == o) {
		/* the agent hung up before routingd confirmed */
		o->call = NULL;
		c->held = NULL;
		(void)acd_result(c, "failed", o, 487, "no answer", NULL, NULL);
		mem_deref(o);
		return;
	}
	stats.legs_failed++;
	CLOG(CC_LOG_INFO, c, "agent %s failed: %u %s", o->agent, code, reason);
	(void)acd_result(c, "failed", o, code, reason, NULL, NULL);
	aleg_remove(c, o);
	o->call = NULL;
	mem_deref(o);
	if (c->cb && !c->n_alegs && !c->held && c->acd == ACD_WAITING) {
		/* no agent took the callback: routingd offers it again (a new offer) */
		c->quiet = true;
		call_end(c, "ivr_ended");
		return;
	}
	if (!c->n_alegs && !c->held && c->acd == ACD_WAITING)
		ann_arm(c);
}

static const char *target_type_name(enum md_q_target_type t)
{
	switch (t) {
	case MD_QT_AGENT:  return "agent";
	case MD_QT_NUMBER: return "number";
	case MD_QT_QUEUE:  return "queue";
	default:           return "flow";
	}
}

/* The transferred event (docs/ACD.md): who handed the call on, to what. */
static void xfer_event(struct md_call *c, const char *agent, const char *kind)
{
	event(c, CC_EV_TRANSFERRED,
	      json_pack("{s:s,s:{s:s,s:s},s:s}", "from_agent", agent, "target", "type",
	                target_type_name(c->xfer.type), "name", c->xfer.name, "kind", kind));
}

/* The call goes on to c->xfer without its agent: a queue re-enqueues it
 * (routingd's entry anew), an agent or a number is rung as a route does. */
static void xfer_go_on(struct md_call *c)
{
	if (c->xfer.type == MD_QT_QUEUE)
		acd_run_flow(c, md_queue_only_flow(c->xfer.name));
	else
		acd_run_flow(c, md_queue_route_flow(&c->xfer));
}

/* A blind transfer (the API's, or a REFER from the agent's phone): the
 * agent's leg ends (ended: its wrap-up; BYE), the caller goes on to the
 * target. */
static void on_xfer_tmr(void *arg)
{
	struct md_call *c = arg;
	struct md_out *o = c->out;

	if (c->ended || !o || !c->bridge || c->acd != ACD_BRIDGED)
		return;
	mon_end_all(c, "transferred");
	xfer_event(c, o->agent, "blind");
	CLOG(CC_LOG_INFO, c, "agent %s transferred the call to %s %s", o->agent,
	     target_type_name(c->xfer.type), c->xfer.name);
	(void)acd_result(c, "ended", o, 0, "", NULL, NULL);
	if (c->on_hold)
		music_stop(c);
	c->on_hold = false;
	rec_end(c);                      /* the next bridge decides anew */
	c->bridge = mem_deref(c->bridge);
	c->out = NULL;
	if (o->refer)                    /* the REFER's subscription ends: 200 */
		(void)sipevent_notifyf(o->refer, NULL, SIPEVENT_TERMINATED, SIPEVENT_NORESOURCE, 0,
		                       "SIP/2.0 200 OK\r\n");
	out_drop(o);                     /* BYE */
	md_member_hear_others(&c->leg->member);
	xfer_go_on(c);
}

/* A REFER from the agent's phone on its bridged ACD leg: Refer-To's user
 * is an extension (agent), a +E.164 number or a queue's name, at the
 * tenant's own SIP domain (any other domain: 403). Accepted with 202 and
 * the implicit subscription (RFC 3515): its NOTIFY says 200 once the
 * caller goes on. */
static void on_out_refer(struct sip *sip, const struct sip_msg *msg, void *arg)
{
	struct md_out *o = arg;
	struct md_call *c = o->call;
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_REFER_TO);
	struct sip_addr addr;
	char user[CC_FLOW_NAME_MAX];
	const char *type;
	json_t *t;
	int err;

	if (!c || c->ended || c->out != o || !c->bridge || !o->acd || c->cb || c->consult ||
	    c->acd != ACD_BRIDGED || tmr_isrunning(&c->xfer_tmr)) {
		(void)sip_treply(NULL, sip, msg, 603, "Decline");
		return;
	}
	if (!h || sip_addr_decode(&addr, &h->val) != 0 || !addr.uri.user.l ||
	    addr.uri.user.l >= sizeof(user)) {
		(void)sip_treply(NULL, sip, msg, 400, "Bad Refer-To");
		return;
	}
	if (pl_strcasecmp(&addr.uri.host, c->inv.domain) != 0) {
		CLOG(CC_LOG_WARN, c, "agent %s's REFER names another domain (%.*s): 403", o->agent,
		     (int)(addr.uri.host.l > 80 ? 80 : addr.uri.host.l), addr.uri.host.p);
		(void)sip_treply(NULL, sip, msg, 403, "Not This Tenant's Domain");
		return;
	}
	memcpy(user, addr.uri.user.p, addr.uri.user.l);
	user[addr.uri.user.l] = '\0';
	type = user[0] == '+' ? "number" : strspn(user, "0123456789") == strlen(user) ? "agent" : "queue";
	t = json_pack("{s:s,s:s}", "type", type, "name", user);
	err = md_queue_read_target(t, &c->xfer);
	json_decref(t);
	if (err) {
		(void)sip_treply(NULL, sip, msg, 603, "Decline");
		return;
	}
	o->refer = mem_deref(o->refer);
	err = sipevent_accept(&o->refer, md_sip_event_sock(), msg, sipsess_dialog(o->sess), NULL,
	                      202, "Accepted", 60, 60, 60, "mediad", "message/sipfrag", NULL, NULL,
	                      false, NULL, NULL, NULL);
	if (err) {
		cc_log(CC_LOG_WARN, err, c->inv.tenant, c->inv.call, "cannot accept the REFER");
		(void)sip_treply(NULL, sip, msg, 500, "Server Error");
		return;
	}
	CLOG(CC_LOG_INFO, c, "agent %s REFERs the call to %s %s", o->agent, type, user);
	tmr_start(&c->xfer_tmr, 0, on_xfer_tmr, c);   /* not inside the session's handler */
}

/* -- a consult transfer: the caller on hold hears the queue's music, the
 * agent talks to the target, then completes (the caller with the target,
 * the agent to wrap-up) or cancels (the agent back with the caller) -- */

#define CONSULT_RING_S 30            /* the target's ring time */
#define CONSULT_MAX_MS 120000        /* a consult not completed by then is cancelled */

/* The target's leg ends (CANCEL or BYE) and leaves the mix. */
static void consult_drop(struct md_call *c)
{
	tmr_cancel(&c->consult_tmr);
	c->cbridge = mem_deref(c->cbridge);
	if (c->consult) {
		out_drop(c->consult);
		c->consult = NULL;
	}
	rec_rules(c);
}

/* The agent back with the caller (cancelled, the target did not answer or
 * hung up, the deadline). */
static void consult_cancel(struct md_call *c, const char *why)
{
	CLOG(CC_LOG_INFO, c, "consult transfer to %s cancelled: %s", c->xfer.name, why);
	consult_drop(c);
	acd_hold(c, false);
}

static void on_consult_tmr(void *arg)
{
	struct md_call *c = arg;

	if (!c->ended && c->consult)
		consult_cancel(c, "its deadline");
}

static void consult_failed(struct md_call *c, struct md_out *o, uint16_t code)
{
	if (c->consult != o)
		return;
	consult_cancel(c, code == 200 ? "the target hung up" : fail_reason(code));
}

/* The target answered: the agent and the target hear each other only. */
static void consult_answered(struct md_call *c, struct md_out *o)
{
	if (c->consult != o || o->answered || !c->out)
		return;
	tmr_cancel(&o->ring);
	o->answered = true;
	stats.legs_answered++;
	if (md_bridge_alloc(&c->cbridge, c->mix, c->leg, o->leg) != 0) {
		consult_cancel(c, "cannot mix");
		return;
	}
	md_member_hear(&c->out->leg->member, 1u << o->leg->member.slot);
	md_member_hear(&o->leg->member, 1u << c->out->leg->member.slot);
	if (c->n_sups)
		mix_rules(c);                /* the supervisors hear the target too */
	rec_rules(c);                    /* the target is recorded on the agent's side */
	CLOG(CC_LOG_INFO, c, "consult: %s %s answered (leg %s), talking with agent %s",
	     o->pstn ? "number" : "agent", o->target, o->id, c->out->agent);
}

/* The caller is bridged to the target, the agent's leg ends (wrap-up). */
static void consult_complete(struct md_call *c)
{
	struct md_out *a = c->out, *o = c->consult;

	if (!a || !o || !o->answered)
		return;
	tmr_cancel(&c->consult_tmr);
	mon_end_all(c, "transferred");   /* the call leaves its agent: the monitor ends */
	xfer_event(c, a->agent, "consult");
	CLOG(CC_LOG_INFO, c, "agent %s completed the consult transfer to %s %s", a->agent,
	     target_type_name(c->xfer.type), c->xfer.name);
	acd_hold(c, false);              /* the hold ends (unheld: its time counted) */
	(void)acd_result(c, "ended", a, 0, "", NULL, NULL);
	rec_end(c);                      /* the recording was of the agent's part */
	c->bridge = mem_deref(c->bridge);    /* the agent leaves the mix */
	c->out = NULL;
	out_drop(a);                     /* BYE (if it has not hung up) */
	c->bridge = c->cbridge;
	c->cbridge = NULL;
	c->consult = NULL;
	o->consult = false;
	c->out = o;
	c->acd = ACD_NONE;               /* the ACD's part of the call is over */
	md_member_hear_others(&c->leg->member);
	md_member_hear_others(&o->leg->member);
}

static int place_consult(struct md_call *c)
{
	struct md_out *o;
	struct mbuf *mb = NULL;
	char to[320], from[320];
	const char *routev[1] = { md_sip_route() };
	bool pstn = c->xfer.type == MD_QT_NUMBER;
	int err;

	o = mem_zalloc(sizeof(*o), out_destructor);
	if (!o)
		return ENOMEM;
	o->call = c;
	o->consult = true;
	o->pstn = pstn;
	tmr_init(&o->ring);
	if (strlen(c->xfer.name) >= sizeof(o->target)) {   /* agents and numbers fit */
		mem_deref(o);
		return EINVAL;
	}
	memcpy(o->target, c->xfer.name, strlen(c->xfer.name) + 1);
	if ((err = cc_uuid(o->id)) != 0 || (err = md_leg_alloc(&o->leg, NULL, NULL)) != 0 ||
	    (err = md_sip_uri(to, sizeof(to), o->target, c->inv.domain)) != 0 ||
	    (err = md_sip_uri(from, sizeof(from), c->inv.caller[0] ? c->inv.caller : "anonymous",
	                      c->inv.domain)) != 0 ||
	    (err = md_leg_offer(o->leg, &mb)) != 0)
		goto out;
	err = sipsess_connect(&o->sess, md_sip_sock(), to, NULL, from, "mediad", routev, 1,
	                      "application/sdp", mb, NULL, NULL, false, on_out_offer,
	                      on_out_answer, on_out_progress, on_out_estab, on_out_info, NULL,
	                      on_out_close, o,
	                      "X-CC-Call: %s\r\nX-CC-Tenant: %s\r\nX-CC-Parent: %s\r\n"
	                      "X-CC-Leg: %s\r\n%s%s%s",
	                      o->id, c->inv.tenant, c->inv.call, pstn ? "pstn" : "agent",
	                      md_sip_auth()[0] ? "X-CC-Auth: " : "", md_sip_auth(),
	                      md_sip_auth()[0] ? "\r\n" : "");
	if (err)
		goto out;
	stats.legs_placed++;
	tmr_start(&o->ring, CONSULT_RING_S * 1000, on_ring_timeout, o);
	c->consult = o;
	CLOG(CC_LOG_INFO, c, "consult: ringing %s %s (leg %s) for agent %s", pstn ? "number" : "agent",
	     o->target, o->id, c->out->agent);
	mem_deref(mb);
	return 0;
out:
	mem_deref(mb);
	o->call = NULL;
	mem_deref(o);
	return err;
}

/* routingd's .transfer (the API's): blind, or consult (agents and numbers). */
static json_t *acd_transfer(struct md_call *c, const json_t *msg)
{
	const char *mode = json_string_value(json_object_get(msg, "mode"));
	bool consult = mode && !strcmp(mode, "consult");
	struct md_q_target t;

	if (mode && !consult && strcmp(mode, "blind"))
		return REFUSE("mode must be blind or consult");
	if (md_queue_read_target(json_object_get(msg, "target"), &t) != 0 ||
	    (t.type != MD_QT_AGENT && t.type != MD_QT_NUMBER && t.type != MD_QT_QUEUE))
		return REFUSE("not a transfer target");
	if (consult && t.type == MD_QT_QUEUE)
		return REFUSE("a consult transfer rings an agent or a number");
	if (c->acd != ACD_BRIDGED || !c->bridge || !c->out || !c->out->acd || c->cb)
		return REFUSE("not bridged");
	if (c->consult)
		return REFUSE("a consult transfer is on");
	if (tmr_isrunning(&c->xfer_tmr))
		return REFUSE("a transfer is on");
	c->xfer = t;
	if (!consult) {
		tmr_start(&c->xfer_tmr, 0, on_xfer_tmr, c);
		return json_pack("{s:b}", "ok", 1);
	}
	acd_hold(c, true);
	if (place_consult(c) != 0) {
		acd_hold(c, false);
		return REFUSE("cannot ring the target");
	}
	tmr_start(&c->consult_tmr, CONSULT_MAX_MS, on_consult_tmr, c);
	return json_pack("{s:b}", "ok", 1);
}

static int place_acd_leg(struct md_call *c, const char *agent, int64_t epoch, const char *offer,
                         int ring_s, bool record)
{
	struct md_out *o;
	struct mbuf *mb = NULL;
	char to[320], from[320], vars[640];
	const char *routev[1] = { md_sip_route() };
	int err;

	if (c->n_alegs >= MD_Q_MAX_LEGS)
		return EOVERFLOW;
	o = mem_zalloc(sizeof(*o), out_destructor);
	if (!o)
		return ENOMEM;
	o->call = c;
	o->acd = true;
	o->epoch = epoch;
	o->record = record;
	tmr_init(&o->ring);
	snprintf(o->target, sizeof(o->target), "%s", agent);
	snprintf(o->agent, sizeof(o->agent), "%s", agent);
	snprintf(o->offer, sizeof(o->offer), "%s", offer);
	desk_vars(c, vars, sizeof(vars));
	if ((err = cc_uuid(o->id)) != 0 || (err = md_leg_alloc(&o->leg, NULL, NULL)) != 0 ||
	    (err = md_sip_uri(to, sizeof(to), agent, c->inv.domain)) != 0 ||
	    (err = md_sip_uri(from, sizeof(from), c->inv.caller[0] ? c->inv.caller : "anonymous",
	                      c->inv.domain)) != 0 ||
	    (err = md_leg_offer(o->leg, &mb)) != 0)
		goto out;
	err = sipsess_connect(&o->sess, md_sip_sock(), to, NULL, from, "mediad", routev, 1,
	                      "application/sdp", mb, NULL, NULL, false, on_out_offer,
	                      on_out_answer, on_out_progress, on_out_estab, on_out_info,
	                      on_out_refer, on_out_close, o,
	                      "X-CC-Call: %s\r\nX-CC-Tenant: %s\r\nX-CC-Parent: %s\r\n"
	                      "X-CC-Leg: acd\r\n%s%s%s%s",
	                      o->id, c->inv.tenant, c->inv.call, vars,
	                      md_sip_auth()[0] ? "X-CC-Auth: " : "", md_sip_auth(),
	                      md_sip_auth()[0] ? "\r\n" : "");
	if (err)
		goto out;
	stats.legs_placed++;
	tmr_start(&o->ring, (uint64_t)ring_s * 1000, on_ring_timeout, o);
	c->alegs[c->n_alegs++] = o;
	CLOG(CC_LOG_INFO, c, "queue %s: ringing agent %s (epoch %lld, leg %s, %d s)", c->queue,
	     agent, (long long)epoch, o->id, ring_s);
	mem_deref(mb);
	return 0;
out:
	mem_deref(mb);
	o->call = NULL;
	mem_deref(o);
	return err ? err : EINVAL;
}

/* -- the callback (`*` while waiting) -- */

static void on_collect_tmr(void *arg);

static void acd_back_to_queue(struct md_call *c)
{
	tmr_cancel(&c->ann_tmr);
	c->acd = ACD_WAITING;
	c->n_cb = 0;
	music_start(c);
	ann_arm(c);
}

struct say_req {                     /* mem object: one prompt said, then `then` */
	struct md_call *call;            /* referenced */
	unsigned gen;
	void (*then)(struct md_call *c);
};

static void say_req_destructor(void *arg)
{
	mem_deref(((struct say_req *)arg)->call);
}

static void on_said(struct md_player *p, void *arg)
{
	struct md_call *c = arg;

	(void)p;
	if (c->ended)
		return;
	if (c->acd == ACD_CALLBACK_DONE)
		call_end(c, "ivr_ended");
	else if (c->acd == ACD_CALLBACK && !tmr_isrunning(&c->ann_tmr))
		tmr_start(&c->ann_tmr, ACD_COLLECT_MS, on_collect_tmr, c);
}

static void on_say_prompt(int err, struct md_prompt *p, void *arg)
{
	struct say_req *r = arg;
	struct md_call *c = r->call;

	if (c->ended || r->gen != c->ann_gen)
		return;
	if (err || md_player_play(c->player, &p, 1, on_said, c) != 0)
		on_said(c->player, c);
}

/* Plays prompt name once (then on_said). */
static void say(struct md_call *c, const char *name)
{
	struct say_req *r = mem_zalloc(sizeof(*r), say_req_destructor);

	c->ann_gen++;
	md_player_silence(c->player);
	if (!r) {
		on_said(c->player, c);
		return;
	}
	r->call = mem_ref(c);
	r->gen = c->ann_gen;
	md_catalog_prompt(c->inv.tenant, name, on_say_prompt, r);
	mem_deref(r);
}

static void on_collect_tmr(void *arg)
{
	struct md_call *c = arg;

	if (!c->ended && c->acd == ACD_CALLBACK && !c->q_req)
		acd_back_to_queue(c);        /* nothing keyed: back to the music */
}

static void on_callback_ok(const json_t *a, void *arg)
{
	struct md_call *c = arg;
	char name[CC_FLOW_NAME_MAX];

	if (c->ended || c->acd != ACD_CALLBACK)
		return;
	c->q_req = 0;
	if (!json_is_true(json_object_get(a, "ok"))) {
		CLOG(CC_LOG_INFO, c, "callback refused: %s",
		     a ? json_string_value(json_object_get(a, "why")) : "no answer");
		acd_back_to_queue(c);
		return;
	}
	/* the entry is routingd's now (its place kept): goodbye, hang up */
	CLOG(CC_LOG_INFO, c, "callback taken: goodbye");
	c->acd = ACD_CALLBACK_DONE;
	park(c);
	snprintf(name, sizeof(name), "q_cb_ok_%s", c->qs.lang);
	say(c, name);
}

static void callback_submit(struct md_call *c)
{
	char number[MD_Q_NUMBER_MAX];

	c->cb_digits[c->n_cb] = '\0';
	tmr_cancel(&c->ann_tmr);
	if (md_queue_callback_number(c->cb_digits, c->inv.caller, number) != 0) {
		CLOG(CC_LOG_INFO, c, "callback: not a number");
		c->n_cb = 0;
		say(c, "invalid");
		return;
	}
	c->q_req = md_rpc_request("cc.rpc.route.acd.callback",
	                          json_pack("{s:s,s:s,s:s,s:s}", "instance", md_rpc_instance(),
	                                    "call", c->inv.call, "tenant", c->inv.tenant, "number",
	                                    number),
	                          5000, on_callback_ok, c);
	if (!c->q_req)
		acd_back_to_queue(c);
}

static void acd_digit(struct md_call *c, char d)
{
	char name[CC_FLOW_NAME_MAX];

	if (c->acd == ACD_WAITING) {
		if (d != '*' || !c->qs.callback || c->n_alegs || c->held || c->q_req)
			return;              /* keys mean nothing while queued */
		tmr_cancel(&c->ann_tmr);
		c->acd = ACD_CALLBACK;
		c->n_cb = 0;
		c->music_on = false;
		snprintf(name, sizeof(name), "q_cb_offer_%s", c->qs.lang);
		say(c, name);
		return;
	}
	if (c->acd != ACD_CALLBACK || c->q_req)
		return;
	if (d == '1' && c->n_cb == 0) {
		c->n_cb = 0;             /* this number */
		callback_submit(c);
		return;
	}
	if (d == '#') {
		if (c->n_cb)
			callback_submit(c);
		return;
	}
	if (d == '*') {
		acd_back_to_queue(c);    /* changed their mind */
		return;
	}
	if (d >= '0' && d <= '9' && c->n_cb < sizeof(c->cb_digits) - 1) {
		c->cb_digits[c->n_cb++] = d;
		tmr_start(&c->ann_tmr, ACD_COLLECT_MS, on_collect_tmr, c);
	}
}

/* -- hold -- */

static void acd_hold(struct md_call *c, bool on)
{
	json_t *f = json_object();

	if (on == c->on_hold || !c->bridge || !c->out) {
		json_decref(f);
		return;
	}
	c->on_hold = on;
	json_object_set_new(f, "agent", json_string(c->out->acd ? c->out->agent : c->out->target));
	if (on) {
		/* the caller hears the queue's music, the agent silence */
		c->hold_since = tmr_jiffies();
		md_member_hear(&c->leg->member, 1u << c->player->member.slot);
		md_member_hear(&c->out->leg->member, 0);
		music_start(c);
		if (c->n_sups)
			mix_rules(c);
		CLOG(CC_LOG_INFO, c, "on hold");
		event(c, CC_EV_HELD, f);
	} else {
		music_stop(c);
		md_member_hear_others(&c->leg->member);
		md_member_hear_others(&c->out->leg->member);
		if (c->n_sups)
			mix_rules(c);
		json_object_set_new(f, "hold_ms", json_integer((json_int_t)(tmr_jiffies() -
		                                                            c->hold_since)));
		CLOG(CC_LOG_INFO, c, "off hold");
		event(c, CC_EV_UNHELD, f);
	}
}

/* routingd's requests (rpc.h md_rpc_acd_h) */
static struct md_call *call_by_id(const char *id)
{
	for (struct le *le = list_head(&calls); id && le; le = le->next) {
		struct md_call *c = le->data;

		if (!strcmp(c->inv.call, id) && !c->ended)
			return c;
	}
	return NULL;
}


/* -- callback offers: no caller leg -- */

#define CB_SEQ_BASE 1000             /* a callback call's events: after the caller's own
                                        (the same call id; event ids are named by seq) */
#define CB_DIAL_S   30               /* the customer's ring time */

static void cb_customer_failed(struct md_call *c, uint16_t code)
{
	CLOG(CC_LOG_INFO, c, "callback: the customer did not answer (%u)", code);
	if (c->agent_out)
		(void)acd_result(c, "callback_failed", c->agent_out, code, md_queue_fail_reason(code),
		                 NULL, NULL);
	c->quiet = true;
	call_end(c, "ivr_ended");
}

/* routingd confirmed the agent: the agent's leg takes the caller's place in
 * the mix, hears ring-back, and the customer is dialled. */
static void cb_connect(struct md_call *c, struct md_out *o)
{
	c->held = NULL;                  /* its reference is agent_out's now */
	acd_leave(c);
	c->acd = ACD_BRIDGED;
	c->agent_out = o;
	c->leg = mem_ref(o->leg);
	stats.legs_answered++;
	if (md_mix_join(c->mix, &c->leg->member) != 0) {
		call_end(c, "ivr_ended");
		return;
	}
	CLOG(CC_LOG_INFO, c, "callback: agent %s answered, dialling %s", o->agent, c->inv.caller);
	place_leg(c, c->inv.caller, CB_DIAL_S, true);
}

static struct md_call *cb_call_new(const struct md_q_offer *o, const char *tenant,
                                   const char *queue, const char **why)
{
	const char *domain = domains.slots ? cc_map_get(&domains, tenant) : NULL;
	struct md_call *c;

	*why = "no SIP domain known for the tenant";
	if (!domain)
		return NULL;
	*why = "out of resources";
	c = mem_zalloc(sizeof(*c), call_destructor);
	if (!c)
		return NULL;
	snprintf(c->inv.call, sizeof(c->inv.call), "%s", o->call);
	snprintf(c->inv.tenant, sizeof(c->inv.tenant), "%s", tenant);
	snprintf(c->inv.domain, sizeof(c->inv.domain), "%s", domain);
	snprintf(c->inv.caller, sizeof(c->inv.caller), "%s", o->callback);
	snprintf(c->queue, sizeof(c->queue), "%s", queue && strlen(queue) < sizeof(c->queue) ? queue : "");
	c->since_us = c->answered_us = cc_now_us();
	c->answered_ms = tmr_jiffies();
	c->seq = CB_SEQ_BASE;
	c->cb = true;
	c->acd = ACD_WAITING;
	c->qs.expected_wait_s = -1;
	snprintf(c->qs.lang, sizeof(c->qs.lang), "zh");
	tmr_init(&c->ivr_tmr);
	tmr_init(&c->digit_tmr);
	tmr_init(&c->ann_tmr);
	tmr_init(&c->xfer_tmr);
	tmr_init(&c->consult_tmr);
	if (md_mix_alloc(&c->mix) || md_player_alloc(&c->player) ||
	    md_mix_join(c->mix, &c->player->member)) {
		mem_deref(c);
		return NULL;
	}
	list_append(&calls, &c->le, c);
	stats.started++;
	CLOG(CC_LOG_INFO, c, "callback offer: %s in queue %s", c->inv.caller, c->queue);
	return c;
}

/* -- supervision: a supervisor's leg joins the call's mix with the rules
 * of monitor.h (listen, whisper, barge); the call goes on without it -- */

#define MON_RING_S 30                /* the supervisor's phone rings this long */
#define REFUSE_S(st, why) json_pack("{s:b,s:s,s:i}", "ok", 0, "why", (why), "status", (st))

/* The recorder's hook: called whenever who hears whom changed (a
 * supervisor joined, left or changed mode; hold; a consult). */
static void sup_changed(struct md_call *c)
{
	rec_rules(c);
}

/* The call's state as monitor.h sees it; false when it has no bridge. */
static bool mon_state(const struct md_call *c, struct md_mon_state *s, struct md_out **in)
{
	const struct md_out *t = c->consult && c->consult->answered && c->cbridge ? c->consult : NULL;

	memset(s, 0, sizeof(*s));
	if (c->ended || c->cb || !c->bridge || !c->out || !c->leg || !c->player)
		return false;
	s->caller = c->leg->member.slot;
	s->player = c->player->member.slot;
	s->agent = c->out->leg->member.slot;
	s->target = t ? (int)t->leg->member.slot : -1;
	s->hold = c->on_hold;
	for (size_t i = 0; i < c->n_sups; i++) {
		struct md_out *o = c->sups[i];

		if (!o->answered || !o->leg->member.mix)
			continue;
		s->sup[s->n].slot = o->leg->member.slot;
		s->sup[s->n].mode = o->mode;
		if (in)
			in[s->n] = o;
		s->n++;
	}
	return true;
}

uint32_t md_call_sup_agent_side(const struct md_call *c)
{
	struct md_mon_state s;

	return c && mon_state(c, &s, NULL) ? md_mon_agent_side(&s) : 0;
}

static void hear(struct md_member *m, bool custom, uint32_t mask)
{
	if (custom)
		md_member_hear(m, mask);
	else
		md_member_hear_others(m);
}

/* Who hears whom, from the call's state (monitor.h). */
static void mix_rules(struct md_call *c)
{
	struct md_out *in[MD_MON_MAX] = { 0 };
	struct md_mon_state s;
	struct md_mon_masks m;

	if (!mon_state(c, &s, in))
		return;
	md_mon_masks(&s, &m);
	hear(&c->leg->member, m.caller_custom, m.caller);
	hear(&c->out->leg->member, m.agent_custom, m.agent);
	if (s.target >= 0)
		hear(&c->consult->leg->member, m.target_custom, m.target);
	for (size_t i = 0; i < s.n; i++)
		md_member_hear(&in[i]->leg->member, m.sup[i]);
	sup_changed(c);
}

static int mon_find(const struct md_call *c, const char *ext)
{
	for (size_t i = 0; i < c->n_sups; i++)
		if (!strcmp(c->sups[i]->agent, ext))
			return (int)i;
	return -1;
}

/* The supervisor leaves (its leg: BYE, or CANCEL while it rings). */
static void mon_remove(struct md_call *c, struct md_out *o, const char *reason)
{
	int i = mon_find(c, o->agent);

	if (i < 0 || c->sups[i] != o)
		return;
	memmove(&c->sups[i], &c->sups[i + 1], (c->n_sups - (size_t)i - 1) * sizeof(o));
	c->n_sups--;
	CLOG(CC_LOG_INFO, c, "supervisor %s left (%s): %s", o->agent, md_mon_mode_name(o->mode),
	     reason);
	event(c, CC_EV_MONITOR_ENDED, json_pack("{s:s,s:s,s:s}", "supervisor", o->agent, "mode",
	                                        md_mon_mode_name(o->mode), "reason", reason));
	md_mix_leave(&o->leg->member);
	out_drop(o);
	mix_rules(c);
}

static void mon_end_all(struct md_call *c, const char *reason)
{
	while (c->n_sups)
		mon_remove(c, c->sups[c->n_sups - 1], reason);
}

static void mon_failed(struct md_call *c, struct md_out *o, uint16_t code)
{
	if (!o->answered)
		stats.legs_failed++;
	mon_remove(c, o, code == 200 ? "hung up" : fail_reason(code));
}

static void mon_answered(struct md_call *c, struct md_out *o)
{
	if (o->answered || mon_find(c, o->agent) < 0)
		return;
	tmr_cancel(&o->ring);
	o->answered = true;
	stats.legs_answered++;
	if (!c->bridge || md_mix_join(c->mix, &o->leg->member) != 0) {
		mon_remove(c, o, "rejected");
		return;
	}
	CLOG(CC_LOG_INFO, c, "supervisor %s joined (%s, leg %s)", o->agent,
	     md_mon_mode_name(o->mode), o->id);
	event(c, CC_EV_MONITOR_STARTED,
	      json_pack("{s:s,s:s,s:s,s:s}", "supervisor", o->agent, "mode",
	                md_mon_mode_name(o->mode), "agent", c->out ? c->out->agent : "", "leg", o->id));
	mix_rules(c);
}

static void mon_mode(struct md_call *c, struct md_out *o, enum md_mon_mode mode, const char *by)
{
	enum md_mon_mode prev = o->mode;

	if (mode == prev)
		return;
	o->mode = mode;
	if (!o->answered)
		return;                      /* monitor_started will say it */
	CLOG(CC_LOG_INFO, c, "supervisor %s: %s -> %s (%s)", o->agent, md_mon_mode_name(prev),
	     md_mon_mode_name(mode), by);
	event(c, CC_EV_MONITOR_MODE, json_pack("{s:s,s:s,s:s,s:s}", "supervisor", o->agent, "mode",
	                                       md_mon_mode_name(mode), "previous",
	                                       md_mon_mode_name(prev), "by", by));
	mix_rules(c);
}

static void on_sup_key_tmr(void *arg)
{
	struct md_out *o = arg;

	while (o->n_keys) {
		char d = o->keys[0];
		int mode = md_mon_mode_key(d);

		memmove(o->keys, o->keys + 1, --o->n_keys);
		if (mode >= 0 && o->call && !o->call->ended && o->answered)
			mon_mode(o->call, o, (enum md_mon_mode)mode, "phone");
	}
}

/* A key from the supervisor's phone (RFC 4733, in-band inside the tick,
 * INFO): handled from a 0 ms timer, where the mix may change. */
static void on_sup_digit(char digit, enum md_dtmf_src src, void *arg)
{
	struct md_out *o = arg;

	(void)src;
	if (o->n_keys >= sizeof(o->keys))
		return;
	o->keys[o->n_keys++] = digit;
	if (!tmr_isrunning(&o->key_tmr))
		tmr_start(&o->key_tmr, 0, on_sup_key_tmr, o);
}

/* A leg to the supervisor's phone, as an agent's (X-CC-Leg: agent: the
 * supervisor is busy for the ACD while it monitors). */
static int place_mon_leg(struct md_call *c, const char *ext, enum md_mon_mode mode)
{
	struct md_out *o;
	struct mbuf *mb = NULL;
	char to[320], from[320];
	const char *routev[1] = { md_sip_route() };
	int err;

	o = mem_zalloc(sizeof(*o), out_destructor);
	if (!o)
		return ENOMEM;
	o->call = c;
	o->sup = true;
	o->mode = mode;
	tmr_init(&o->ring);
	tmr_init(&o->key_tmr);
	snprintf(o->target, sizeof(o->target), "%s", ext);
	snprintf(o->agent, sizeof(o->agent), "%s", ext);
	if ((err = cc_uuid(o->id)) != 0 || (err = md_leg_alloc(&o->leg, on_sup_digit, o)) != 0 ||
	    (err = md_sip_uri(to, sizeof(to), ext, c->inv.domain)) != 0 ||
	    (err = md_sip_uri(from, sizeof(from), c->inv.caller[0] ? c->inv.caller : "anonymous",
	                      c->inv.domain)) != 0 ||
	    (err = md_leg_offer(o->leg, &mb)) != 0)
		goto out;
	err = sipsess_connect(&o->sess, md_sip_sock(), to, NULL, from, "mediad", routev, 1,
	                      "application/sdp", mb, NULL, NULL, false, on_out_offer,
	                      on_out_answer, on_out_progress, on_out_estab, on_out_info, NULL,
	                      on_out_close, o,
	                      "X-CC-Call: %s\r\nX-CC-Tenant: %s\r\nX-CC-Parent: %s\r\n"
	                      "X-CC-Leg: agent\r\n%s%s%s",
	                      o->id, c->inv.tenant, c->inv.call,
	                      md_sip_auth()[0] ? "X-CC-Auth: " : "", md_sip_auth(),
	                      md_sip_auth()[0] ? "\r\n" : "");
	if (err)
		goto out;
	stats.legs_placed++;
	tmr_start(&o->ring, MON_RING_S * 1000, on_ring_timeout, o);
	c->sups[c->n_sups++] = o;
	CLOG(CC_LOG_INFO, c, "monitor: ringing supervisor %s (%s, leg %s)", ext,
	     md_mon_mode_name(mode), o->id);
	mem_deref(mb);
	return 0;
out:
	mem_deref(mb);
	o->call = NULL;
	mem_deref(o);
	return err ? err : EINVAL;
}

/* The request's "queues" (the supervisor's, from tenantd) name the call's. */
static bool supervises(const json_t *msg, const char *queue)
{
	const json_t *qs = json_object_get(msg, "queues"), *q;
	size_t i;

	if (!queue[0] || !json_is_array(qs))
		return false;
	json_array_foreach(qs, i, q)
		if (json_is_string(q) && !strcmp(json_string_value(q), queue))
			return true;
	return false;
}

/* routingd's .op monitor / monitor_mode / monitor_end (the API's). A call
 * of a queue the supervisor does not supervise is 404, as no call is. */
static json_t *acd_monitor(struct md_call *c, const char *op, const json_t *msg)
{
	const char *ext = json_string_value(json_object_get(msg, "supervisor"));
	int mode = md_mon_mode_parse(json_string_value(json_object_get(msg, "mode")));
	int i;

	if (!ext || !*ext || strlen(ext) >= MD_Q_EXT_MAX || strspn(ext, "0123456789") != strlen(ext))
		return REFUSE_S(422, "supervisor is an extension");
	if (!supervises(msg, c->queue))
		return REFUSE_S(404, "no such call");
	if (!strcmp(op, "monitor")) {
		if (mode < 0)
			return REFUSE_S(422, "mode is listen, whisper or barge");
		if (c->cb)
			return REFUSE_S(409, "a callback's call is not monitored");
		if (c->acd != ACD_BRIDGED || !c->bridge || !c->out || !c->out->acd)
			return REFUSE_S(409, "not bridged");
		if (c->consult)
			return REFUSE_S(409, "a consult transfer is on");
		if (mon_find(c, ext) >= 0)
			return REFUSE_S(409, "the supervisor monitors the call already");
		if (c->n_sups >= MD_MON_MAX)
			return REFUSE_S(409, "the call has two supervisors already");
		if (!strcmp(ext, c->out->agent))
			return REFUSE_S(409, "the supervisor is the call's agent");
		if (place_mon_leg(c, ext, (enum md_mon_mode)mode) != 0)
			return REFUSE_S(503, "cannot ring the supervisor");
		return json_pack("{s:b}", "ok", 1);
	}
	if ((i = mon_find(c, ext)) < 0)
		return REFUSE_S(404, "the supervisor does not monitor the call");
	if (!strcmp(op, "monitor_mode")) {
		if (mode < 0)
			return REFUSE_S(422, "mode is listen, whisper or barge");
		mon_mode(c, c->sups[i], (enum md_mon_mode)mode, "api");
		return json_pack("{s:b}", "ok", 1);
	}
	if (!strcmp(op, "monitor_end")) {
		mon_remove(c, c->sups[i], "api");
		return json_pack("{s:b}", "ok", 1);
	}
	return REFUSE_S(422, "op is monitor, monitor_mode or monitor_end");
}

static json_t *rec_answer(const char *id, const char *state)
{
	return json_pack("{s:b, s:{s:s, s:s}}", "ok", 1, "recording", "id", id, "state", state);
}

/* The API's recording control (docs/RECORDING.md, Recording control):
 * start, stop, pause (PCI: silence is recorded meanwhile), resume. A
 * supervisor's key sends its queues, an agent's key its extension: any
 * other call is no call for them. */
static json_t *acd_recording(struct md_call *c, const json_t *msg)
{
	const char *action = json_string_value(json_object_get(msg, "action"));
	const json_t *agent = json_object_get(msg, "agent");
	char id[CC_UUID_LEN];
	bool on;

	if (json_object_get(msg, "queues") && !supervises(msg, c->queue))
		return REFUSE_S(404, "no such call");
	if (agent && (!json_is_string(agent) || !c->out || c->cb ||
	              strcmp(json_string_value(agent), c->out->agent)))
		return REFUSE_S(404, "no such call");
	if (!action || (strcmp(action, "start") && strcmp(action, "stop") && strcmp(action, "pause") &&
	                strcmp(action, "resume")))
		return REFUSE_S(422, "action is start, stop, pause or resume");
	if (c->cb || c->acd != ACD_BRIDGED || !c->bridge || !c->out || !c->out->acd)
		return REFUSE_S(409, "not bridged");
	if (c->rec && !strcmp(md_rec_state(c->rec), "failed"))
		rec_end(c);                  /* its row says failed already: a start may try again */
	if (!strcmp(action, "start")) {
		if (c->rec)
			return REFUSE_S(409, "already recording");
		if (rec_start(c) != 0)
			return REFUSE_S(503, "cannot record");
		return rec_answer(md_rec_id(c->rec), md_rec_state(c->rec));
	}
	if (!c->rec)
		return REFUSE_S(409, "no recording");
	if (!strcmp(action, "stop")) {
		snprintf(id, sizeof(id), "%s", md_rec_id(c->rec));
		rec_end(c);
		return rec_answer(id, "stopping");  /* the writer still writes its end: the row says when */
	}
	on = !strcmp(action, "pause");
	if (md_rec_pause(c->rec, on) != 0)
		return REFUSE_S(409, on ? "already paused" : "not paused");
	CLOG(CC_LOG_INFO, c, "recording %s %s", md_rec_id(c->rec), on ? "paused" : "resumed");
	return rec_answer(md_rec_id(c->rec), md_rec_state(c->rec));
}

json_t *md_calls_acd(const char *what, const json_t *msg, void *arg)
{
	const char *id = json_string_value(json_object_get(msg, "call"));
	struct md_call *c;

	(void)arg;
	if (!id || !cc_uuid_valid(id))
		return REFUSE("call is not an id");
	if (!strcmp(what, "offer")) {
		struct md_q_offer o;
		const char *why;
		size_t placed = 0;

		if (md_queue_read_offer(msg, &o, &why) != 0)
			return REFUSE(why);
		c = call_by_id(o.call);
		if (o.callback[0] && (!c || c->acd == ACD_CALLBACK_DONE)) {
			const char *tenant = json_string_value(json_object_get(msg, "tenant"));
			const char *queue = json_string_value(json_object_get(msg, "queue"));

			if (!tenant || !cc_uuid_valid(tenant))
				return REFUSE("tenant is not an id");
			if (!(c = cb_call_new(&o, tenant, queue, &why)))
				return REFUSE(why);
		} else if (o.callback[0]) {
			return REFUSE("not a callback");
		}
		if (!c || c->acd == ACD_NONE || c->acd == ACD_CALLBACK_DONE)
			return REFUSE("no such call");
		if (c->acd == ACD_BRIDGED)
			return REFUSE("bridged");
		if (c->acd != ACD_WAITING)
			return REFUSE("not waiting");
		if (c->n_alegs || c->held)
			return REFUSE("an offer rings");
		snprintf(c->offer, sizeof(c->offer), "%s", o.offer);
		tmr_cancel(&c->ann_tmr);
		for (size_t i = 0; i < o.n; i++) {
			int err = place_acd_leg(c, o.agents[i].agent, o.agents[i].epoch, o.offer,
			                        o.ring_s, o.agents[i].record);

			if (!err) {
				placed++;
				continue;
			}
			/* that agent's leg could not be placed: a failure routingd hears */
			struct md_out f = { .acd = true, .epoch = o.agents[i].epoch };
			snprintf(f.agent, sizeof(f.agent), "%s", o.agents[i].agent);
			snprintf(f.offer, sizeof(f.offer), "%s", o.offer);
			(void)acd_result(c, "failed", &f, 500, "rejected", NULL, NULL);
		}
		if (!placed && c->cb) {
			c->quiet = true;     /* the failures went to routingd */
			call_end(c, "ivr_ended");
		} else if (!placed) {
			ann_arm(c);
		}
		return json_pack("{s:b}", "ok", 1);
	}
	if (!(c = call_by_id(id)))
		return REFUSE("no such call");
	if (!strcmp(what, "cancel")) {
		const char *offer = json_string_value(json_object_get(msg, "offer"));

		if (!offer || !cc_uuid_valid(offer))
			return REFUSE("offer is not an id");
		if (c->cb && c->acd == ACD_WAITING && !strcmp(offer, c->offer)) {
			c->quiet = true;     /* the callback's offer is withdrawn */
			call_end(c, "ivr_ended");
		} else if (c->acd == ACD_WAITING && !strcmp(offer, c->offer)) {
			for (size_t i = 0; i < c->n_alegs; i++) {
				out_drop(c->alegs[i]);
				c->alegs[i] = NULL;
			}
			c->n_alegs = 0;
			out_drop(c->held);
			c->held = NULL;
			ann_arm(c);
		}
		return json_pack("{s:b}", "ok", 1);
	}
	if (!strcmp(what, "route")) {
		struct md_q_target t;

		if (md_queue_read_target(json_object_get(msg, "target"), &t) != 0)
			return REFUSE("not a target");
		if (t.type == MD_QT_QUEUE)
			return REFUSE("a queue target is routingd's");
		if (c->acd == ACD_BRIDGED || c->bridge)
			return REFUSE("bridged");
		CLOG(CC_LOG_INFO, c, "routingd routes the call on (%s)", t.name[0] ? t.name : t.prompt);
		acd_leave(c);
		acd_run_flow(c, md_queue_route_flow(&t));
		return json_pack("{s:b}", "ok", 1);
	}
	if (!strcmp(what, "op")) {
		const char *op = json_string_value(json_object_get(msg, "op"));

		if (op && !strncmp(op, "monitor", 7))
			return acd_monitor(c, op, msg);
		if (op && !strcmp(op, "recording"))
			return acd_recording(c, msg);
		if (op && (!strcmp(op, "complete") || !strcmp(op, "cancel"))) {
			if (!c->consult)
				return REFUSE("no consult transfer");
			if (!strcmp(op, "cancel")) {
				consult_cancel(c, "the API asked");
				return json_pack("{s:b}", "ok", 1);
			}
			if (!c->consult->answered)
				return REFUSE("the target has not answered");
			consult_complete(c);
			return json_pack("{s:b}", "ok", 1);
		}
		if (!op || (strcmp(op, "hold") && strcmp(op, "unhold")))
			return REFUSE("op must be hold or unhold");   /* (or complete, cancel) */
		if (!c->bridge)
			return REFUSE("not bridged");
		if (c->consult)
			return REFUSE("a consult transfer is on");
		acd_hold(c, !strcmp(op, "hold"));
		return json_pack("{s:b}", "ok", 1);
	}
	if (!strcmp(what, "transfer"))
		return acd_transfer(c, msg);
	return REFUSE("unknown request");
}

/* ---- the call's start and end -------------------------------------------- */

static void on_flow(int err, struct md_flow *f, void *arg)
{
	struct md_call *c = arg;

	if (c->ended)
		return;
	if (err) {
		uint16_t code = err == ENOENT ? 404 : 503;

		CLOG(CC_LOG_WARN, c, "flow version %s %s: %u", c->inv.flow,
		     err == ENOENT ? "does not exist" : "cannot be loaded", code);
		if (c->sess)
			(void)sipsess_reject(c->sess, code, code == 404 ? "Not Found" :
			                     "Service Unavailable", "");
		c->sess = mem_deref(c->sess);
		call_end(c, "ivr_ended");
		return;
	}
	c->flows[c->n_flows++] = mem_ref(f);
	err = sipsess_answer(c->sess, 200, "OK", c->answer, "");
	c->answer = mem_deref(c->answer);
	if (err) {
		cc_log(CC_LOG_ERR, err, c->inv.tenant, c->inv.call, "cannot answer");
		call_end(c, "ivr_ended");
		return;
	}
	c->answered_ms = tmr_jiffies();
	c->answered_us = cc_now_us();
	CLOG(CC_LOG_INFO, c, "answered: flow %s (%s)", f->name, f->version);
	ivr_init(&c->run, f->flow, f->tz);
	c->running = true;
	feed(c, IVR_START, 0, NULL);
}

static void call_end(struct md_call *c, const char *result)
{
	json_t *f, *media, *vars;
	uint64_t now = tmr_jiffies();
	uint64_t ivr_end = c->bridged_ms ? c->bridged_ms : now;

	if (c->ended)
		return;
	c->ended = true;
	stats.ended++;
	tmr_cancel(&c->ivr_tmr);
	tmr_cancel(&c->digit_tmr);
	tmr_cancel(&c->xfer_tmr);
	c->play_gen++;
	loading_release(c);
	mon_end_all(c, "call ended");

	vars = json_object();
	for (size_t i = 0; c->running && i < c->run.n_vars; i++)
		json_object_set_new(vars, c->run.vars[i].name, json_string(c->run.vars[i].value));
	media = json_object();
	if (c->leg)
		json_object_set_new(media, c->cb ? "agent" : "caller", leg_json(c->leg));
	if (c->out && c->out->answered) {
		json_t *l = leg_json(c->out->leg);
		json_object_set_new(l, "leg", json_string(c->out->id));
		json_object_set_new(media, c->out->pstn ? "number" : "agent", l);
	}
	f = json_object();
	json_object_set_new(f, "result", json_string(result));
	json_object_set_new(f, "ivr_ms", json_integer(c->answered_ms ?
	                    (json_int_t)(ivr_end - c->answered_ms) : 0));
	json_object_set_new(f, "flow", json_string(c->inv.flow));
	json_object_set_new(f, "vars", vars);
	json_object_set_new(f, "media", media);
	if (c->queue[0]) {
		json_object_set_new(f, "queue", json_string(c->queue));
		if (c->acd == ACD_CALLBACK_DONE)
			json_object_set_new(f, "callback", json_true());
	}
	if (c->answered_ms && (!c->cb || c->agent_out))
		event(c, CC_EV_MEDIA_ENDED, f);
	else
		json_decref(f);
	CLOG(CC_LOG_INFO, c, "ended: %s", result);

	/* the ACD hears how the entry ended: its bridged call ended, or the
	 * caller left the queue (ringing legs: CANCEL, a held 200: BYE) */
	if (c->cb && c->agent_out && !c->quiet)
		unpark(c->inv.call);         /* the callback happened: its entry is over */
	if (c->quiet)
		;                            /* routingd knows (a callback offer that ended) */
	else if (c->acd == ACD_BRIDGED && (c->cb ? c->agent_out : c->out))
		(void)acd_result(c, "ended", c->cb ? c->agent_out : c->out, 0, "", NULL, NULL);
	else if (c->acd == ACD_ENQUEUING || c->acd == ACD_WAITING || c->acd == ACD_CALLBACK)
		(void)acd_result(c, "abandoned", NULL, 0, "", NULL, NULL);
	acd_leave(c);
	consult_drop(c);
	rec_end(c);                      /* before its taps' mix goes */
	/* the agent leg: BYE (bridged) or CANCEL (ringing) */
	c->bridge = mem_deref(c->bridge);
	if (c->out)
		c->out->call = NULL;
	c->out = mem_deref(c->out);
	c->player = mem_deref(c->player);
	if (c->agent_out) {
		c->agent_out->call = NULL;
		out_drop(c->agent_out);     /* the callback's agent: BYE */
		c->agent_out = NULL;
	}
	if (c->leg)
		md_mix_leave(&c->leg->member);
	/* the caller: BYE once answered, else a final answer */
	if (c->sess && !c->answered_ms)
		(void)sipsess_reject(c->sess, 503, "Service Unavailable", "");
	c->sess = mem_deref(c->sess);
	calls_unlink(c);
	mem_deref(c);                     /* the list's reference */
}

/* An X-CC-Queue call: a one-node flow (the queue, then goodbye). */
static void queue_only(struct md_call *c)
{
	struct cc_flow *f = md_queue_only_flow(c->inv.queue);
	int err;

	if (!f) {
		(void)sipsess_reject(c->sess, 404, "Not Found", "");
		c->sess = mem_deref(c->sess);
		call_end(c, "ivr_ended");
		return;
	}
	c->own[c->n_own++] = f;
	err = sipsess_answer(c->sess, 200, "OK", c->answer, "");
	c->answer = mem_deref(c->answer);
	if (err) {
		cc_log(CC_LOG_ERR, err, c->inv.tenant, c->inv.call, "cannot answer");
		call_end(c, "ivr_ended");
		return;
	}
	c->answered_ms = tmr_jiffies();
	c->answered_us = cc_now_us();
	CLOG(CC_LOG_INFO, c, "answered: queue %s", c->inv.queue);
	ivr_init(&c->run, f, NULL);
	c->running = true;
	feed(c, IVR_START, 0, NULL);
}

void md_call_invite(const struct sip_msg *msg, const struct md_invite *inv, void *arg)
{
	struct md_call *c;
	int err;

	(void)arg;
	if (stopping) {
		(void)sip_treply(NULL, md_sip(), msg, 503, "Service Unavailable");
		return;
	}
	for (struct le *le = list_head(&calls); le; le = le->next) {
		struct md_call *o = le->data;
		if (!strcmp(o->inv.call, inv->call)) {
			/* a second INVITE for a call mediad has: not the same dialog */
			(void)sip_treply(NULL, md_sip(), msg, 482, "Loop Detected");
			return;
		}
	}
	c = mem_zalloc(sizeof(*c), call_destructor);
	if (!c) {
		(void)sip_treply(NULL, md_sip(), msg, 503, "Service Unavailable");
		return;
	}
	c->inv = *inv;
	c->since_us = cc_now_us();
	/* the tenant's SIP domain, for its callback offers (they come with no INVITE) */
	if (!domains.slots)
		cc_map_init(&domains);
	{
		char *old = cc_map_get(&domains, inv->tenant);

		if (!old || strcmp(old, inv->domain)) {
			char *d = strdup(inv->domain);

			if (d)
				free(cc_map_put(&domains, inv->tenant, d));
		}
	}
	tmr_init(&c->ivr_tmr);
	tmr_init(&c->digit_tmr);
	tmr_init(&c->ann_tmr);
	tmr_init(&c->xfer_tmr);
	tmr_init(&c->consult_tmr);
	err = md_leg_alloc(&c->leg, on_caller_digit, c);
	if (err) {
		cc_log(CC_LOG_ERR, err, inv->tenant, inv->call, "no RTP port");
		stats.refused_busy++;
		(void)sip_treply(NULL, md_sip(), msg, 503, "Service Unavailable");
		mem_deref(c);
		return;
	}
	err = md_leg_answer(c->leg, msg->mb, &c->answer);
	if (err) {
		CLOG(CC_LOG_WARN, c, "offer refused: %s", err == EPROTO ? "no common codec" : "not SDP");
		stats.refused_codec++;
		(void)sip_treply(NULL, md_sip(), msg, 488, "Not Acceptable Here");
		mem_deref(c);
		return;
	}
	if (md_mix_alloc(&c->mix) || md_player_alloc(&c->player) ||
	    md_mix_join(c->mix, &c->leg->member) || md_mix_join(c->mix, &c->player->member)) {
		(void)sip_treply(NULL, md_sip(), msg, 503, "Service Unavailable");
		mem_deref(c);
		return;
	}
	err = sipsess_accept(&c->sess, md_sip_sock(), msg, 180, "Ringing", "mediad",
	                     "application/sdp", NULL, NULL, NULL, false, on_caller_offer,
	                     on_caller_answer, on_caller_estab, on_caller_info, NULL,
	                     on_caller_close, c, "Allow: INVITE, ACK, BYE, CANCEL, INFO\r\n");
	if (err) {
		cc_log(CC_LOG_ERR, err, inv->tenant, inv->call, "cannot accept");
		(void)sip_treply(NULL, md_sip(), msg, 500, "Server Error");
		mem_deref(c);
		return;
	}
	list_append(&calls, &c->le, c);
	n_calls++;
	stats.started++;
	CLOG(CC_LOG_INFO, c, "call to %s from %s: %s %s, codec %s", inv->called,
	     inv->caller[0] ? inv->caller : "(withheld)", inv->queue[0] ? "queue" : "flow version",
	     inv->queue[0] ? inv->queue : inv->flow, c->leg->codec.name);
	if (inv->queue[0])
		queue_only(c);
	else
		md_catalog_flow_version(inv->tenant, inv->flow, on_flow, c);
}

/* ---- routingd and the rest ----------------------------------------------- */

size_t md_calls_count(void *arg)
{
	return n_calls;
}

json_t *md_calls_json(void *arg)
{
	json_t *a = json_array();

	for (struct le *le = list_head(&calls); le; le = le->next) {
		struct md_call *c = le->data;
		char since[CC_RFC3339_LEN];

		const char *acd = acd_state_name(c);
		json_t *o;

		cc_rfc3339(c->since_us, since);
		o = json_pack("{s:s,s:s,s:s}", "call", c->inv.call, "tenant", c->inv.tenant, "since",
		              since);
		if (acd) {
			json_object_set_new(o, "queue", json_string(c->queue));
			json_object_set_new(o, "acd", json_string(acd));
		}
		json_array_append_new(a, o);
	}
	unpark(NULL);
	for (struct le *le = list_head(&parked); le; le = le->next) {
		struct parked *p = le->data;
		char since[CC_RFC3339_LEN];

		if (call_by_id(p->call))
			continue;                /* its callback call is listed already */
		cc_rfc3339(p->since_us, since);
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:s}", "call", p->call, "tenant",
		                                   p->tenant, "since", since, "queue", p->queue,
		                                   "acd", "callback"));
	}
	return a;
}

int md_calls_hangup(const char *call, void *arg)
{
	for (struct le *le = list_head(&calls); le; le = le->next) {
		struct md_call *c = le->data;

		if (!strcmp(c->inv.call, call)) {
			CLOG(CC_LOG_INFO, c, "routingd asked to end the call");
			call_end(c, c->bridge ? "bridged" : "ivr_ended");
			return 0;
		}
	}
	return ENOENT;
}

void md_calls_cfg(const char *tenant, void *arg)
{
	md_catalog_forget(tenant);
}

void md_calls_end_all(void)
{
	struct le *le;

	stopping = true;
	while ((le = list_head(&calls))) {
		struct md_call *c = le->data;
		call_end(c, c->bridge ? "bridged" : "ivr_ended");
	}
}

const struct md_calls_stats *md_calls_stats(void)
{
	return &stats;
}
