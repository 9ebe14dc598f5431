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
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "call.h"
#include "catalog.h"
#include "clock.h"
#include "ivr.h"
#include "leg.h"
#include "log.h"
#include "player.h"
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
};

struct play_req {                    /* mem object: one prompt asked of the catalog */
	struct md_call *call;            /* referenced */
	unsigned gen;
	size_t idx;
};

static struct list calls;
static bool stopping;              /* md_calls_end_all ran: new calls get 503 */
static struct md_calls_stats stats;

static void feed(struct md_call *c, enum ivr_input in, char digit, const struct cc_flow *f);
static void call_end(struct md_call *c, const char *result);

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

static void call_destructor(void *arg)
{
	struct md_call *c = arg;

	tmr_cancel(&c->ivr_tmr);
	tmr_cancel(&c->digit_tmr);
	list_unlink(&c->le);
	mem_deref(c->bridge);
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
		if (c->running)
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
	feed(c, IVR_FAILED, 0, NULL);
}

static void on_ring_timeout(void *arg)
{
	struct md_out *o = arg;

	if (o->call && o->call->out == o)
		out_failed(o->call, 408);
}

static int on_out_offer(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
	struct md_out *o = arg;

	return md_leg_answer(o->leg, msg->mb, descp);
}

static int on_out_answer(const struct sip_msg *msg, void *arg)
{
	struct md_out *o = arg;

	return md_leg_answered(o->leg, msg->mb);
}

static void on_out_progress(const struct sip_msg *msg, void *arg)
{
}

static void on_out_estab(const struct sip_msg *msg, void *arg)
{
	struct md_out *o = arg;
	struct md_call *c = o->call;
	json_t *f;
	int err;

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

static void place_leg(struct md_call *c, const char *target, int ring_s, bool pstn)
{
	struct md_out *o;
	struct mbuf *offer = NULL;
	char to[320], from[320];
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
	err = sipsess_connect(&o->sess, md_sip_sock(), to, NULL, from, "mediad", routev, 1,
	                      "application/sdp", offer, NULL, NULL, false, on_out_offer,
	                      on_out_answer, on_out_progress, on_out_estab, on_out_info, NULL,
	                      on_out_close, o,
	                      "X-CC-Call: %s\r\nX-CC-Tenant: %s\r\nX-CC-Parent: %s\r\n"
	                      "X-CC-Leg: %s\r\n%s%s%s",
	                      o->id, c->inv.tenant, c->inv.call, pstn ? "pstn" : "agent",
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
	c->play_gen++;
	loading_release(c);

	vars = json_object();
	for (size_t i = 0; c->running && i < c->run.n_vars; i++)
		json_object_set_new(vars, c->run.vars[i].name, json_string(c->run.vars[i].value));
	media = json_object();
	json_object_set_new(media, "caller", leg_json(c->leg));
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
	if (c->answered_ms)
		event(c, CC_EV_MEDIA_ENDED, f);
	else
		json_decref(f);
	CLOG(CC_LOG_INFO, c, "ended: %s", result);

	/* the agent leg: BYE (bridged) or CANCEL (ringing) */
	c->bridge = mem_deref(c->bridge);
	if (c->out)
		c->out->call = NULL;
	c->out = mem_deref(c->out);
	c->player = mem_deref(c->player);
	md_mix_leave(&c->leg->member);
	/* the caller: BYE once answered, else a final answer */
	if (c->sess && !c->answered_ms)
		(void)sipsess_reject(c->sess, 503, "Service Unavailable", "");
	c->sess = mem_deref(c->sess);
	list_unlink(&c->le);
	mem_deref(c);                     /* the list's reference */
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
	tmr_init(&c->ivr_tmr);
	tmr_init(&c->digit_tmr);
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
	stats.started++;
	CLOG(CC_LOG_INFO, c, "call to %s from %s: flow version %s, codec %s", inv->called,
	     inv->caller[0] ? inv->caller : "(withheld)", inv->flow, c->leg->codec.name);
	md_catalog_flow_version(inv->tenant, inv->flow, on_flow, c);
}

/* ---- routingd and the rest ----------------------------------------------- */

size_t md_calls_count(void)
{
	return list_count(&calls);
}

json_t *md_calls_json(void *arg)
{
	json_t *a = json_array();

	for (struct le *le = list_head(&calls); le; le = le->next) {
		struct md_call *c = le->data;
		char since[CC_RFC3339_LEN];

		cc_rfc3339(c->since_us, since);
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "call", c->inv.call,
		                                   "tenant", c->inv.tenant, "since", since));
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
