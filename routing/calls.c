/* calls.c: see calls.h. */
#include "calls.h"
#include "cc.h"
#include "credit.h"
#include "decide.h"
#include "event_types.h"
#include "clock.h"
#include "id.h"
#include "limits.h"
#include "log.h"
#include "media.h"
#include "model-t.h"

#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void publish(struct rt_calls *c, const char *tenant, enum cc_event_type type, json_t *ev)
{
	char subject[128];

	/* a tenant id is a UUID; a longer one came from outside: never a cut
	 * subject (it would name another tenant's events) */
	if (cc_event_subject(subject, sizeof(subject), type, tenant) != CC_OK) {
		CC_ERR("a %s event for a tenant id of %zu bytes: not published", cc_event_name(type),
		       strlen(tenant));
		json_decref(ev);
		return;
	}
	/* after the answer: rt_calls_flush */
	if (!c->later)
		c->later = json_array();
	json_array_append_new(c->later, json_pack("[s, o]", subject, ev));
}

void rt_calls_flush(struct rt_calls *c)
{
	json_t *later = c->later, *e;
	size_t i;

	c->later = NULL;
	json_array_foreach(later, i, e) {
		json_t *ev = json_array_get(e, 1);

		json_incref(ev);
		if (c->publish(c->events, json_string_value(json_array_get(e, 0)), ev) != CC_OK)
			c->lost++;
	}
	json_decref(later);
}

static json_t *event(const char *tenant, enum cc_event_type type, const char *call)
{
	json_t *ev = cc_event_new(tenant && *tenant ? tenant : NULL, cc_event_name(type));

	CC_BUG_ON(!ev);
	json_object_set_new(ev, "call", json_string(call));
	return ev;
}

/* A kept event may reach routingd long after it happened (Kamailio holds
 * it while routingd is away): its time is Kamailio's, within a week. */
#define KAM_EVENT_MAX_AGE_US (7LL * 86400 * 1000000)

/* An event Kamailio reports (answered, ended, failed) or the sweep finds:
 * its id is named by the call and the type, so a report delivered twice
 * (kept by Kamailio and sent again after routingd's restart, or swept
 * while Kamailio's own end was on its way) is one event for JetStream and
 * billingd, never a second end. Its time is at_us (Kamailio's clock) when
 * that is plausible, else now. */
static json_t *kam_event(const char *tenant, enum cc_event_type type, const char *call,
                         int64_t at_us)
{
	json_t *ev = event(tenant, type, call);
	char id[CC_UUID_LEN], ts[CC_RFC3339_LEN], *name = cc_sprintf("%s/%s", call, cc_event_name(type));
	int64_t now = cc_now_us();

	CC_BUG_ON(!name);
	cc_uuid_named(name, id);
	free(name);
	json_object_set_new(ev, "id", json_string(id));
	if (at_us > now - KAM_EVENT_MAX_AGE_US && at_us <= now + 1000000) {
		cc_rfc3339(at_us, ts);
		json_object_set_new(ev, "ts", json_string(ts));
	}
	return ev;
}

/* Kamailio's "at": "<seconds>.<microseconds>" ($TV(Sn)); 0 if absent or bad. */
static int64_t kam_time(const json_t *msg)
{
	const char *at = str(msg, "at"), *dot = strchr(at, '.');
	char *end;
	long long s, us;

	if (!dot || dot == at || strlen(dot + 1) != 6 || strspn(at, "0123456789.") != strlen(at))
		return 0;
	s = strtoll(at, &end, 10);
	if (end != dot || s <= 0 || s > 4102444800LL)
		return 0;
	us = strtoll(dot + 1, &end, 10);
	return *end ? 0 : (int64_t)s * 1000000 + us;
}

/* A call waiting for billingd's lease (credit.h): the question and the
 * decision, with the tenant's id instead of a pointer into the model (a
 * reload may free it meanwhile). */
struct parked {
	struct rt_calls *c;
	json_t *msg;                 /* Kamailio's question */
	struct rt_decision d;        /* d.tenant NULL */
	char tenant[CC_UUID_LEN];
	uint64_t t0_ns;
};

static json_t *answer(struct rt_calls *c, const json_t *msg, struct rt_decision *d,
                      const char *tenant, int64_t grant);

/* ------------------------------------------------ agents busy for the ACD */

/* A routed call's agents (the callee's extension, the calling agent's):
 * busy for the ACD while it is answered. */
struct agent_call {
	char tenant[CC_UUID_LEN];
	char ext[2][12];
	int n;
	bool answered;               /* agent_busy(true) was said */
};

static void track_agents(struct rt_calls *c, const json_t *q, const struct rt_decision *d,
                         enum rt_kind kind, const char *tenant, const char *call)
{
	struct agent_call *a;

	if (!c->agent_busy || !cc_uuid_valid(call) || !cc_uuid_valid(tenant))
		return;
	/* an offer's leg is the ACD's own: the ACD knows that agent is on it */
	if (kind == RT_MEDIA_LEG && strcmp(str(q, "leg"), "acd") == 0)
		return;
	a = calloc(1, sizeof(*a));
	CC_BUG_ON(!a);
	snprintf(a->tenant, sizeof(a->tenant), "%s", tenant);
	if (d->action == RT_RING_AGENT) {
		const char *callee = kind == RT_CARRIER ? d->agent : str(q, "to_user");

		if (*callee && strlen(callee) < sizeof(a->ext[0]))
			snprintf(a->ext[a->n++], sizeof(a->ext[0]), "%s", callee);
	}
	if (kind == RT_AGENT && d->agent[0] &&
	    (!a->n || strcmp(a->ext[0], d->agent) != 0))
		snprintf(a->ext[a->n++], sizeof(a->ext[0]), "%s", d->agent);
	if (!a->n) {
		free(a);
		return;
	}
	free(cc_map_put(&c->agent_calls, call, a));   /* a question asked twice: the last */
}

static void agents_answered(struct rt_calls *c, const char *call)
{
	struct agent_call *a = cc_map_get(&c->agent_calls, call);

	if (!a || a->answered)
		return;
	a->answered = true;
	for (int i = 0; i < a->n; i++)
		c->agent_busy(c->acd_arg, a->tenant, a->ext[i], call, true);
}

static void agents_ended(struct rt_calls *c, const char *call)
{
	struct agent_call *a = cc_map_del(&c->agent_calls, call);

	if (!a)
		return;
	if (a->answered)
		for (int i = 0; i < a->n; i++)
			c->agent_busy(c->acd_arg, a->tenant, a->ext[i], call, false);
	free(a);
}

/* The tenant of a SIP domain, from a map rebuilt when the model changed:
 * known by its generation, since a new model can be allocated where a
 * freed one was, and a map kept by address would then name the old
 * model's tenants (a domain of tenant A mapped to B). */
static const char *tenant_of_domain(struct rt_calls *c, const char *domain)
{
	const struct rt_model *m = *c->model;

	if (c->domains_of != m->generation) {
		cc_map_free(&c->domains, free);
		cc_map_init(&c->domains);
		for (size_t i = 0; i < m->tenants.cap; i++) {
			const struct rt_tenant *t = m->tenants.slots[i].value;

			if (m->tenants.slots[i].key && t->enabled) {
				char *id = strdup(t->id);

				CC_BUG_ON(!id);
				free(cc_map_put(&c->domains, t->sip_domain, id));
			}
		}
		c->domains_of = m->generation;
	}
	return cc_map_get(&c->domains, domain);
}

/* {"kind":"reg","domain","user","expires"}: Kamailio's registrar. */
static void registration(struct rt_calls *c, const json_t *msg)
{
	const char *domain = str(msg, "domain"), *user = str(msg, "user"), *tenant;
	const json_t *exp = json_object_get(msg, "expires");

	c->events_in++;
	if (!c->agent_reg)
		return;
	if (!json_is_integer(exp) || !*user || strlen(user) >= 12 || !*domain) {
		CC_WARN("Kamailio sent a registration without domain, user or expires");
		return;
	}
	if (!(tenant = tenant_of_domain(c, domain)))
		return;              /* no tenant's: nothing of the ACD's */
	c->regs++;
	c->agent_reg(c->acd_arg, tenant, user, json_integer_value(exp) > 0);
}

void rt_calls_free(struct rt_calls *c)
{
	cc_map_free(&c->agent_calls, free);
	cc_map_free(&c->domains, free);
	json_decref(c->later);
	c->later = NULL;
}

static void on_granted(void *ctx, int64_t seconds, int code, const char *reason)
{
	struct parked *p = ctx;
	const char *call = str(json_object_get(p->msg, "q"), "call");

	if (seconds == 0) {
		p->d.action = RT_REJECT;
		p->d.code = code;
		p->d.reason = reason;
		rt_limits_release(&p->c->limits, call);
	}
	json_t *reply = answer(p->c, p->msg, &p->d, p->tenant, seconds);

	p->c->answer(p->c->answer_arg, reply, p->t0_ns);
	json_decref(reply);
	rt_calls_flush(p->c);
	json_decref(p->msg);
	free(p);
}

/* The call's credit (see credit.h): granted seconds, -1 for "no limit",
 * 0 after turning the decision into a rejection, or RT_GRANT_PARKED. */
static int64_t grant_of(struct rt_calls *c, struct rt_decision *d, const json_t *msg,
                        const char *call)
{
	const char *number = d->direction == RT_INBOUND ? d->number : d->to;
	int code = 503;
	const char *reason = "Billing Unavailable";
	struct parked *p = calloc(1, sizeof(*p));

	CC_BUG_ON(!p);
	p->c = c;
	p->d = *d;
	p->d.tenant = NULL;
	snprintf(p->tenant, sizeof(p->tenant), "%s", d->tenant->id);
	p->t0_ns = cc_mono_ns();
	p->msg = json_deep_copy(msg);
	CC_BUG_ON(!p->msg);
	int64_t seconds = rt_credit_grant(c->credit, d->tenant, d->direction == RT_INBOUND,
	                                  number[0] == '+' ? number + 1 : number, call, &code, &reason,
	                                  on_granted, p);

	if (seconds == RT_GRANT_PARKED) {
		c->parked++;
		return seconds;
	}
	json_decref(p->msg);
	free(p);
	if (seconds == 0) {
		d->action = RT_REJECT;
		d->code = code;
		d->reason = reason;
	}
	return seconds;
}

/* The tenant's limits on calls through the carrier (limits.h): false after
 * turning the decision into a 503. */
static bool admitted(struct rt_calls *c, struct rt_decision *d, const char *call)
{
	const struct rt_tenant *t = d->tenant;

	switch (rt_limits_admit(&c->limits, t->id, &t->limits, call, t->plan ? t->plan->max_s : 0,
	                        cc_mono_ms())) {
	case RT_LIMIT_OK:
		return true;
	case RT_LIMIT_CALLS:
		d->reason = "Too Many Calls";
		break;
	case RT_LIMIT_CPS:
		d->reason = "Call Rate Exceeded";
		break;
	}
	d->action = RT_REJECT;
	d->code = 503;
	return false;
}

/* An answer that refuses the call without a decision (and no events: the
 * question is not one this platform asks). */
static json_t *refuse(const json_t *msg, int code, const char *reason)
{
	return json_pack("{s:O, s:O, s:s, s:s, s:i, s:s}", "ti", json_object_get(msg, "ti"),
	                 "tl", json_object_get(msg, "tl"), "tenant", "", "action", "reject",
	                 "code", code, "reason", reason);
}

static json_t *decide(struct rt_calls *c, const json_t *msg)
{
	const json_t *q = json_object_get(msg, "q");
	const char *call = str(q, "call");
	struct rt_request req = {
		.trunk = str(q, "trunk"),
		.tenant = str(q, "tenant"),
		.from_user = str(q, "from_user"),
		.to_user = str(q, "to_user"),
		.leg = str(q, "leg"),
	};
	struct rt_decision d;
	const char *tenant;
	char instance[CC_UUID_LEN] = "";

	if (rt_kind_parse(str(q, "kind"), &req.kind) != CC_OK) {
		c->rejected++;
		CC_WARN("evapi: a question of unknown kind: refused with 403");
		return refuse(msg, 403, "Forbidden");
	}
	if (req.kind == RT_CARRIER)
		req.media = rt_media_pick(c->media, instance);
	rt_decide(*c->model, &req, &d);
	if (d.action == RT_MEDIA)
		snprintf(d.media, sizeof(d.media), "%s", instance);
	c->decisions++;
	tenant = d.tenant ? d.tenant->id : "";
	int64_t grant = -1;
	bool carried = d.action != RT_REJECT && d.tenant && d.direction != RT_INTERNAL;
	if (carried && admitted(c, &d, call) && d.tenant->plan) {
		grant = grant_of(c, &d, msg, call);
		if (grant == RT_GRANT_PARKED)
			return NULL;
		if (d.action == RT_REJECT)
			rt_limits_release(&c->limits, call);
	}
	return answer(c, msg, &d, tenant, grant);
}

/* The answer to Kamailio's question and the call's events (queued). */
static json_t *answer(struct rt_calls *c, const json_t *msg, struct rt_decision *d_,
                      const char *tenant, int64_t grant)
{
	const json_t *q = json_object_get(msg, "q");
	const char *call = str(q, "call");
	enum rt_kind kind = RT_AGENT;
	struct rt_decision d = *d_;
	json_t *reply, *ev;

	rt_kind_parse(str(q, "kind"), &kind);
	/* a leg mediad placed: the caller's call, on each of its events */
	const char *parent = kind == RT_MEDIA_LEG && cc_uuid_valid(str(q, "parent")) ? str(q, "parent")
	                                                                              : NULL;

	ev = event(tenant, CC_EV_OFFERED, call);
	if (parent)
		json_object_set_new(ev, "parent", json_string(parent));
	json_object_set_new(ev, "sip_call_id", json_string(str(q, "sip_call_id")));
	json_object_set_new(ev, "direction", json_string(rt_direction_name(d.direction)));
	json_object_set_new(ev, "from", json_string(d.from));
	json_object_set_new(ev, "to", json_string(d.to));
	if (d.number[0])
		json_object_set_new(ev, "number", json_string(d.number));
	json_object_set_new(ev, "source", json_string(str(q, "src")));
	if (kind == RT_CARRIER)
		json_object_set_new(ev, "trunk", json_string(str(q, "trunk")));
	publish(c, tenant, CC_EV_OFFERED, ev);

	reply = json_pack("{s:O, s:O, s:s}", "ti", json_object_get(msg, "ti"),
	                  "tl", json_object_get(msg, "tl"), "tenant", tenant);
	if (d.action == RT_REJECT) {
		c->rejected++;
		cc_log(CC_LOG_DEBUG, 0, tenant, call, "rejected %d %s", d.code, d.reason);
		json_object_set_new(reply, "action", json_string("reject"));
		json_object_set_new(reply, "code", json_integer(d.code));
		json_object_set_new(reply, "reason", json_string(d.reason));
		ev = event(tenant, CC_EV_REJECTED, call);
		json_object_set_new(ev, "code", json_integer(d.code));
		json_object_set_new(ev, "reason", json_string(d.reason));
		json_object_set_new(ev, "result", json_string("rejected"));
		if (d.agent[0])
			json_object_set_new(ev, "agent", json_string(d.agent));
		if (parent)
			json_object_set_new(ev, "parent", json_string(parent));
		publish(c, tenant, CC_EV_REJECTED, ev);
		return reply;
	}
	json_object_set_new(reply, "action", json_string(d.action == RT_PSTN    ? "pstn"
	                                                 : d.action == RT_MEDIA ? "media"
	                                                                        : "agent"));
	json_object_set_new(reply, "uri", json_string(d.uri));
	if (d.action == RT_MEDIA) {
		if (d.queue[0])
			json_object_set_new(reply, "queue", json_string(d.queue));
		else
			json_object_set_new(reply, "flow", json_string(d.flow));
		json_object_set_new(reply, "domain", json_string(d.domain));
		json_object_set_new(reply, "caller", json_string(d.caller));
		rt_media_sent(c->media, call, tenant, d.media, str(q, "sip_call_id"));
	} else if (parent) {
		rt_media_leg(c->media, call, tenant, parent, str(q, "sip_call_id"));
	}
	if (grant > 0)
		json_object_set_new(reply, "timeout", json_integer(grant));
	if (d.action == RT_PSTN)
		json_object_set_new(reply, "cli", json_string(d.cli));
	ev = event(tenant, CC_EV_ROUTED, call);
	json_object_set_new(ev, "direction", json_string(rt_direction_name(d.direction)));
	json_object_set_new(ev, "agent", json_string(d.agent));
	if (d.action == RT_PSTN)
		json_object_set_new(ev, "destination", json_string(d.to));
	if (d.action == RT_MEDIA) {
		if (d.queue[0])
			json_object_set_new(ev, "queue", json_string(d.queue));
		else
			json_object_set_new(ev, "flow", json_string(d.flow));
		json_object_set_new(ev, "media", json_string(d.media));
	}
	if (parent)
		json_object_set_new(ev, "parent", json_string(parent));
	if (grant > 0)
		json_object_set_new(ev, "grant_seconds", json_integer(grant));
	publish(c, tenant, CC_EV_ROUTED, ev);
	track_agents(c, q, &d, kind, tenant, call);
	return reply;
}

/* Final SIP code of a call that never connected -> the record's result. */
static const char *failure_result(int code)
{
	switch (code) {
	case 486: case 600: return "busy";
	case 408: case 480: return "no_answer";
	case 487: return "cancelled";
	case 603: return "rejected";
	default: return "failed";
	}
}

static void progress(struct rt_calls *c, const json_t *msg, const char *what)
{
	const char *call = str(msg, "call"), *tenant = str(msg, "tenant");
	int64_t at = kam_time(msg);
	json_t *ev;

	c->events_in++;
	if (!cc_uuid_valid(call)) {
		CC_WARN("Kamailio sent %s without a call id", what);
		return;
	}
	/* the tenant is routingd's own answer coming back through the dialog;
	 * anything but an id would bend the subject ("a.b", "*", ">"): the
	 * event keeps its call, under no tenant ("_") */
	if (*tenant && !cc_uuid_valid(tenant)) {
		CC_WARN("Kamailio sent %s of call %.64s with a tenant that is not an id", what, call);
		tenant = "";
	}
	if (strcmp(what, "answered") == 0) {
		rt_limits_answered(&c->limits, call, cc_mono_ms());
		/* the dialog's handle, for its top-ups (credit.h) */
		if (c->credit)
			rt_credit_answered(c->credit, call,
			                   (long)json_integer_value(json_object_get(msg, "h_entry")),
			                   (long)json_integer_value(json_object_get(msg, "h_id")));
		rt_media_answered(c->media, call, (long)json_integer_value(json_object_get(msg, "h_entry")),
		                  (long)json_integer_value(json_object_get(msg, "h_id")));
		if (c->agent_busy)
			agents_answered(c, call);
		ev = kam_event(tenant, CC_EV_ANSWERED, call, at);
		if (json_integer_value(json_object_get(msg, "media")) == 1)
			json_object_set_new(ev, "mediad", json_true());   /* Kamailio's dialog says so */
		publish(c, tenant, CC_EV_ANSWERED, ev);
		return;
	}
	/* ended or failed, whatever ended it: the call's slot is free */
	rt_limits_release(&c->limits, call);
	bool cut = c->credit && rt_credit_ended(c->credit, call);
	bool media_lost = rt_media_ended(c->media, call);
	if (c->agent_busy)
		agents_ended(c, call);
	if (strcmp(what, "ended") == 0) {
		ev = kam_event(tenant, CC_EV_ENDED, call, at);
		json_object_set_new(ev, "code", json_integer(200));
		json_object_set_new(ev, "result", json_string("answered"));
		if (json_integer_value(json_object_get(msg, "media")) == 1)
			json_object_set_new(ev, "mediad", json_true());
		if (media_lost)
			json_object_set_new(ev, "reason", json_string("media server lost"));
		else if (cut)
			json_object_set_new(ev, "reason", json_string("credit exhausted"));
		publish(c, tenant, CC_EV_ENDED, ev);
		return;
	}
	/* failed: before the call connected */
	int code = (int)json_integer_value(json_object_get(msg, "code"));
	const char *reason = str(msg, "reason");
	bool lookup = code == 480 && strcmp(reason, "not registered") == 0;

	ev = kam_event(tenant, lookup ? CC_EV_REJECTED : CC_EV_ENDED, call, at);
	json_object_set_new(ev, "code", json_integer(code));
	json_object_set_new(ev, "reason", json_string(media_lost ? "media server lost" : reason));
	json_object_set_new(ev, "result", json_string(lookup ? "rejected" : failure_result(code)));
	publish(c, tenant, lookup ? CC_EV_REJECTED : CC_EV_ENDED, ev);
}

void rt_calls_swept(struct rt_calls *c, const char *call, const char *tenant, int64_t end_us)
{
	json_t *ev = kam_event(tenant, CC_EV_ENDED, call, end_us);

	rt_limits_release(&c->limits, call);
	bool media_lost = rt_media_ended(c->media, call);
	if (c->agent_busy)
		agents_ended(c, call);
	if (c->credit)
		rt_credit_ended(c->credit, call);       /* no more slices for it */
	json_object_set_new(ev, "code", json_integer(200));
	json_object_set_new(ev, "result", json_string("answered"));
	json_object_set_new(ev, "reason", json_string(media_lost ? "media server lost"
	                                                         : "swept: dialog lost"));
	publish(c, tenant, CC_EV_ENDED, ev);
	c->swept++;
}

void rt_calls_media_ended(struct rt_calls *c, const char *call, const char *tenant, bool mediad,
                          int64_t ended_us)
{
	json_t *ev = kam_event(tenant, CC_EV_ENDED, call, ended_us);

	rt_limits_release(&c->limits, call);
	rt_media_ended(c->media, call);
	if (c->credit)
		rt_credit_ended(c->credit, call);
	json_object_set_new(ev, "code", json_integer(200));
	json_object_set_new(ev, "result", json_string("answered"));
	if (mediad)
		json_object_set_new(ev, "mediad", json_true());
	json_object_set_new(ev, "reason", json_string("media server lost"));
	publish(c, tenant, CC_EV_ENDED, ev);
	c->media_ends++;
	cc_log(CC_LOG_INFO, 0, tenant, call, "ended through Kamailio (mediad lost): its end reported");
}

json_t *rt_calls_handle(struct rt_calls *c, const json_t *msg)
{
	const char *ev = str(msg, "ev");

	/* a question is answered to its transaction (ti, tl: Kamailio's
	 * integers); without them no answer could reach it, so it is not one */
	if (json_is_integer(json_object_get(msg, "ti")) && json_is_integer(json_object_get(msg, "tl")) &&
	    json_is_object(json_object_get(msg, "q")))
		return decide(c, msg);
	if (!strcmp(ev, "answered") || !strcmp(ev, "ended") || !strcmp(ev, "failed")) {
		progress(c, msg, ev);
		return NULL;
	}
	if (!strcmp(ev, "reg") || !strcmp(str(msg, "kind"), "reg")) {
		registration(c, msg);
		return NULL;
	}
	CC_WARN("evapi: unknown message from Kamailio (ev=%s)", ev);
	return NULL;
}
