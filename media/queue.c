/*
 * queue.c: the pure parts of a caller in an ACD queue (queue.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc.h"
#include "e164.h"
#include "queue.h"

static bool name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n < CC_FLOW_NAME_MAX && strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static bool ext_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 2 && n <= 8 && strspn(s, "0123456789") == n;
}

static bool e164_ok(const char *s)
{
	char *why = NULL;
	bool ok = s && strlen(s) < MD_Q_NUMBER_MAX && cc_e164_valid(s, &why) == CC_OK;

	free(why);
	return ok;
}

json_t *md_queue_enqueue_json(const char *instance, const char *call, const char *tenant,
                              const char *queue, const char *caller,
                              const struct cc_flow_node *node, const char *arrived)
{
	json_t *b = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "instance", instance, "call", call,
	                      "tenant", tenant, "queue", queue, "caller", caller ? caller : "",
	                      "arrived", arrived);

	if (b && node) {
		if (node->n_skills) {
			json_t *sk = json_object();

			for (size_t i = 0; i < node->n_skills; i++)
				json_object_set_new(sk, node->skills[i].name,
				                    json_integer(node->skills[i].level));
			json_object_set_new(b, "skills", sk);
		}
		if (node->priority)
			json_object_set_new(b, "priority", json_integer(node->priority));
	}
	return b;
}

int md_queue_read_target(const json_t *t, struct md_q_target *out)
{
	static const char *const types[] = { [MD_QT_QUEUE] = "queue", [MD_QT_AGENT] = "agent",
	                                     [MD_QT_NUMBER] = "number", [MD_QT_FLOW] = "flow",
	                                     [MD_QT_HANGUP] = "hangup" };
	const char *type = json_string_value(json_object_get(t, "type"));
	const char *name = json_string_value(json_object_get(t, "name"));
	const char *prompt = json_string_value(json_object_get(t, "prompt"));

	memset(out, 0, sizeof(*out));
	if (!json_is_object(t) || !type)
		return EINVAL;
	for (size_t i = 1; i < CC_ARRAY_LEN(types); i++)
		if (!strcmp(type, types[i]))
			out->type = (enum md_q_target_type)i;
	switch (out->type) {
	case MD_QT_NONE:
		return EINVAL;
	case MD_QT_QUEUE:
	case MD_QT_FLOW:
		if (!name_ok(name))
			goto bad;
		break;
	case MD_QT_AGENT:
		if (!ext_ok(name))
			goto bad;
		break;
	case MD_QT_NUMBER:
		if (!e164_ok(name))
			goto bad;
		break;
	case MD_QT_HANGUP:
		name = NULL;
		if (json_object_get(t, "prompt") && !name_ok(prompt))
			goto bad;
		snprintf(out->prompt, sizeof(out->prompt), "%s", prompt ? prompt : "goodbye");
		break;
	}
	if (name)
		snprintf(out->name, sizeof(out->name), "%s", name);
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return EINVAL;
}

enum md_q_answer md_queue_read_answer(const json_t *a, bool enqueue, struct md_q_settings *s,
                                      struct md_q_target *route, const char **why)
{
	const json_t *ok = json_object_get(a, "ok"), *pos, *wait, *ann;

	memset(route, 0, sizeof(*route));
	*why = "not an answer";
	if (!json_is_object(a) || !json_is_boolean(ok))
		return MD_Q_BAD;
	if (!json_is_true(ok)) {
		const json_t *r = json_object_get(a, "route");

		*why = json_string_value(json_object_get(a, "why"));
		if (!*why)
			*why = "refused";
		if (r && !json_is_null(r) && md_queue_read_target(r, route) != 0)
			*why = "refused (a route mediad cannot take)";
		return MD_Q_REFUSED;
	}
	pos = json_object_get(a, "position");
	wait = json_object_get(a, "expected_wait_s");
	if (!json_is_integer(pos) || json_integer_value(pos) < 1 || json_integer_value(pos) > 1000000 ||
	    (wait && !json_is_null(wait) &&
	     (!json_is_integer(wait) || json_integer_value(wait) < 0 ||
	      json_integer_value(wait) > 86400 * 7)))
		return MD_Q_BAD;
	s->position = (int)json_integer_value(pos);
	s->expected_wait_s = json_is_integer(wait) ? (long)json_integer_value(wait) : -1;
	if (!enqueue)
		return MD_Q_OK;
	{
		const char *music = json_string_value(json_object_get(a, "music"));
		const char *lang = json_string_value(json_object_get(a, "lang"));
		const json_t *every;

		ann = json_object_get(a, "announce");
		every = json_object_get(ann, "every_s");
		if ((music && !name_ok(music)) || (ann && !json_is_object(ann)) ||
		    (every && (!json_is_integer(every) || json_integer_value(every) < 0 ||
		               json_integer_value(every) > 3600)))
			return MD_Q_BAD;
		snprintf(s->music, sizeof(s->music), "%s", music ? music : "hold_music");
		s->say_position = json_is_true(json_object_get(ann, "position"));
		s->say_wait = json_is_true(json_object_get(ann, "wait"));
		s->every_s = every ? (int)json_integer_value(every) : 0;
		if (s->every_s && s->every_s < 10)
			s->every_s = 10;     /* not a stream of announcements */
		s->callback = json_is_true(json_object_get(a, "callback"));
		snprintf(s->lang, sizeof(s->lang), "%s", lang && !strcmp(lang, "en") ? "en" : "zh");
	}
	return MD_Q_OK;
}

int md_queue_read_offer(const json_t *msg, struct md_q_offer *o, const char **why)
{
	const char *call = json_string_value(json_object_get(msg, "call"));
	const char *offer = json_string_value(json_object_get(msg, "offer"));
	const json_t *ring = json_object_get(msg, "ring_s"), *agents = json_object_get(msg, "agents");
	const json_t *cb = json_object_get(msg, "callback"), *v;
	size_t i;

	memset(o, 0, sizeof(*o));
	*why = "call is not an id";
	if (!call || !cc_uuid_valid(call))
		return EINVAL;
	*why = "offer is not an id";
	if (!offer || !cc_uuid_valid(offer))
		return EINVAL;
	*why = "ring_s must be 1 to 300";
	if (ring && (!json_is_integer(ring) || json_integer_value(ring) < 1 ||
	             json_integer_value(ring) > 300))
		return EINVAL;
	*why = "agents must be a list of 1 to 16 {agent, epoch}";
	if (!json_is_array(agents) || json_array_size(agents) < 1 ||
	    json_array_size(agents) > MD_Q_MAX_LEGS)
		return EINVAL;
	json_array_foreach(agents, i, v) {
		const char *ext = json_string_value(json_object_get(v, "agent"));
		const json_t *ep = json_object_get(v, "epoch"), *rec = json_object_get(v, "record");

		if (!ext_ok(ext) || !json_is_integer(ep) || json_integer_value(ep) < 0)
			return EINVAL;
		if (rec && !json_is_boolean(rec))
			return EINVAL;
		o->agents[o->n].record = json_is_true(rec);
		for (size_t k = 0; k < o->n; k++)
			if (!strcmp(o->agents[k].agent, ext))
				return EINVAL;   /* one leg per agent */
		snprintf(o->agents[o->n].agent, sizeof(o->agents[o->n].agent), "%s", ext);
		o->agents[o->n++].epoch = (int64_t)json_integer_value(ep);
	}
	*why = "callback must be an E.164 number";
	if (cb && !json_is_null(cb)) {
		if (!e164_ok(json_string_value(cb)))
			return EINVAL;
		snprintf(o->callback, sizeof(o->callback), "%s", json_string_value(cb));
	}
	snprintf(o->call, sizeof(o->call), "%s", call);
	snprintf(o->offer, sizeof(o->offer), "%s", offer);
	o->ring_s = ring ? (int)json_integer_value(ring) : 15;
	*why = NULL;
	return 0;
}

int md_queue_minutes(long wait_s)
{
	long m;

	if (wait_s < 0)
		return 0;
	m = (wait_s + 59) / 60;
	if (m < 1)
		m = 1;
	return m > MD_Q_MAX_MINUTES ? MD_Q_MAX_MINUTES + 1 : (int)m;
}

size_t md_queue_announce(const struct md_q_settings *s, char out[][CC_FLOW_NAME_MAX])
{
	const char *lang = strcmp(s->lang, "en") ? "zh" : "en";
	size_t n = 0;

	if (s->say_position && s->position >= 1) {
		if (s->position > MD_Q_MAX_POSITION)
			snprintf(out[n++], CC_FLOW_NAME_MAX, "q_pos_%s_more", lang);
		else
			snprintf(out[n++], CC_FLOW_NAME_MAX, "q_pos_%s_%d", lang, s->position);
	}
	if (s->say_wait && s->expected_wait_s >= 0) {
		int m = md_queue_minutes(s->expected_wait_s);

		if (m > MD_Q_MAX_MINUTES)
			snprintf(out[n++], CC_FLOW_NAME_MAX, "q_wait_%s_more", lang);
		else
			snprintf(out[n++], CC_FLOW_NAME_MAX, "q_wait_%s_%d", lang, m);
	}
	if (n && s->callback)
		snprintf(out[n++], CC_FLOW_NAME_MAX, "q_cb_hint_%s", lang);
	return n;
}

static struct cc_flow *parse(json_t *doc)
{
	struct cc_flow *f = NULL;
	struct cc_flow_error err;

	if (!doc || cc_flow_parse(doc, &f, &err) != CC_OK)
		f = NULL;
	json_decref(doc);
	return f;
}

struct cc_flow *md_queue_route_flow(const struct md_q_target *t)
{
	switch (t->type) {
	case MD_QT_AGENT:
		return parse(json_pack("{s:s,s:{s:{s:s,s:s,s:s},s:{s:s,s:[s],s:s},s:{s:s}}}",
		                       "start", "t", "nodes",
		                       "t", "type", "agent", "extension", t->name, "next", "bye",
		                       "bye", "type", "play", "prompts", "goodbye", "next", "end",
		                       "end", "type", "hangup"));
	case MD_QT_NUMBER:
		return parse(json_pack("{s:s,s:{s:{s:s,s:s,s:s},s:{s:s,s:[s],s:s},s:{s:s}}}",
		                       "start", "t", "nodes",
		                       "t", "type", "number", "number", t->name, "next", "bye",
		                       "bye", "type", "play", "prompts", "goodbye", "next", "end",
		                       "end", "type", "hangup"));
	case MD_QT_FLOW:
		return parse(json_pack("{s:s,s:{s:{s:s,s:s}}}", "start", "t", "nodes",
		                       "t", "type", "goto", "flow", t->name));
	case MD_QT_HANGUP:
		return parse(json_pack("{s:s,s:{s:{s:s,s:[s],s:b,s:s},s:{s:s}}}", "start", "t", "nodes",
		                       "t", "type", "play", "prompts", t->prompt[0] ? t->prompt : "goodbye",
		                       "interruptible", 0, "next", "end", "end", "type", "hangup"));
	case MD_QT_QUEUE:
	case MD_QT_NONE:
		break;
	}
	return NULL;
}

struct cc_flow *md_queue_only_flow(const char *queue)
{
	if (!name_ok(queue))
		return NULL;
	return parse(json_pack("{s:s,s:{s:{s:s,s:s,s:s},s:{s:s,s:[s],s:b,s:s},s:{s:s}}}",
	                       "start", "q", "nodes",
	                       "q", "type", "queue", "queue", queue, "fallback", "bye",
	                       "bye", "type", "play", "prompts", "goodbye", "interruptible", 0,
	                       "next", "end", "end", "type", "hangup"));
}

int md_queue_callback_number(const char *keyed, const char *caller, char out[MD_Q_NUMBER_MAX])
{
	char n[MD_Q_NUMBER_MAX + 4];
	size_t len = keyed ? strlen(keyed) : 0;

	out[0] = '\0';
	if (!len) {
		if (!e164_ok(caller))
			return EINVAL;
		snprintf(out, MD_Q_NUMBER_MAX, "%s", caller);
		return 0;
	}
	if (len < 5 || len > 17 || strspn(keyed, "0123456789") != len)
		return EINVAL;
	if (!strncmp(keyed, "00", 2))
		snprintf(n, sizeof(n), "+%s", keyed + 2);
	else if (keyed[0] == '0')
		snprintf(n, sizeof(n), "+86%s", keyed + 1);
	else if (len == 11 && keyed[0] == '1')
		snprintf(n, sizeof(n), "+86%s", keyed);
	else
		return EINVAL;       /* a local number without its area code */
	if (!e164_ok(n))
		return EINVAL;
	snprintf(out, MD_Q_NUMBER_MAX, "%s", n);
	return 0;
}

const char *md_queue_fail_reason(uint16_t code)
{
	switch (code) {
	case 404: case 480: return "not registered";
	case 486: case 600: return "busy";
	case 408: case 487: return "no answer";
	default:            return "rejected";
	}
}

bool md_queue_sdp_holds(const char *sdp, size_t len)
{
	/* the session or the audio line: a=sendonly or a=inactive (RFC 3264 8.4) */
	for (size_t i = 0; sdp && i + 10 <= len; i++) {
		if (i && sdp[i - 1] != '\n')
			continue;
		if ((len - i >= 10 && !memcmp(sdp + i, "a=sendonly", 10)) ||
		    (len - i >= 10 && !memcmp(sdp + i, "a=inactive", 10)))
			return true;
	}
	return false;
}
