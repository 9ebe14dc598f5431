/*
 * test_media_queue.c: the pure parts of a caller in an ACD queue
 * (media/queue.h): routingd's answers and requests read as hostile input
 * (each refusal), the announcement's prompt names in both languages, the
 * flows a route becomes, the callback's number, hold in SDP.
 */
#define SUITE "media_queue"
#include <errno.h>

#include "test.h"

#include "cc.h"
#include "flow.h"
#include "queue.h"

#define CALL  "6f1c1e2a-0b7d-4f57-9f59-6a4c2d1b0e11"
#define OFFER "0c7f2d1a-5e3b-4c8a-9d2e-1f0a3b4c5d6e"

static json_t *j(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);

	if (!v)
		FAILF("bad test JSON: %s: %s", je.text, text);
	return v;
}

TEST(enqueue_body)
{
	struct cc_flow_node n = { .priority = 5, .n_skills = 1 };
	json_t *b;

	snprintf(n.skills[0].name, sizeof(n.skills[0].name), "mandarin");
	n.skills[0].level = 3;
	b = md_queue_enqueue_json("i1", CALL, "t1", "repair", "+8613900000888", &n,
	                          "2026-12-02T05:00:00Z");
	ASSERT_EQ_STR(json_string_value(json_object_get(b, "queue")), "repair");
	ASSERT_EQ_STR(json_string_value(json_object_get(b, "caller")), "+8613900000888");
	ASSERT_EQ_STR(json_string_value(json_object_get(b, "arrived")), "2026-12-02T05:00:00Z");
	ASSERT_EQ_INT((int)json_integer_value(json_object_get(b, "priority")), 5);
	ASSERT_EQ_INT((int)json_integer_value(json_object_get(json_object_get(b, "skills"), "mandarin")), 3);
	ASSERT(!json_object_get(b, "id"));          /* md_rpc_request adds it */
	json_decref(b);
	/* an X-CC-Queue call: no node, no skills or priority; withheld caller "" */
	b = md_queue_enqueue_json("i1", CALL, "t1", "repair", "", NULL, "2026-12-02T05:00:00Z");
	ASSERT(!json_object_get(b, "skills") && !json_object_get(b, "priority"));
	ASSERT_EQ_STR(json_string_value(json_object_get(b, "caller")), "");
	json_decref(b);
}

TEST(enqueue_answer_ok)
{
	struct md_q_settings s = { 0 };
	struct md_q_target r;
	const char *why;
	json_t *a = j("{\"id\":\"x\",\"ok\":true,\"position\":3,\"expected_wait_s\":95,\"music\":\"hold\","
	              "\"announce\":{\"position\":true,\"wait\":true,\"every_s\":30},\"callback\":true,"
	              "\"lang\":\"en\"}");

	ASSERT_EQ_INT(md_queue_read_answer(a, true, &s, &r, &why), MD_Q_OK);
	ASSERT_EQ_INT(s.position, 3);
	ASSERT_EQ_INT((int)s.expected_wait_s, 95);
	ASSERT_EQ_STR(s.music, "hold");
	ASSERT(s.say_position && s.say_wait && s.callback);
	ASSERT_EQ_INT(s.every_s, 30);
	ASSERT_EQ_STR(s.lang, "en");
	json_decref(a);
	/* defaults: null wait, no music named, no announce, an unknown language is zh */
	a = j("{\"ok\":true,\"position\":1,\"expected_wait_s\":null,\"lang\":\"fr\"}");
	ASSERT_EQ_INT(md_queue_read_answer(a, true, &s, &r, &why), MD_Q_OK);
	ASSERT_EQ_INT((int)s.expected_wait_s, -1);
	ASSERT_EQ_STR(s.music, "hold_music");
	ASSERT(!s.say_position && !s.say_wait && !s.callback && s.every_s == 0);
	ASSERT_EQ_STR(s.lang, "zh");
	json_decref(a);
	/* announcements never more often than every 10 s */
	a = j("{\"ok\":true,\"position\":1,\"announce\":{\"position\":true,\"every_s\":1}}");
	ASSERT_EQ_INT(md_queue_read_answer(a, true, &s, &r, &why), MD_Q_OK);
	ASSERT_EQ_INT(s.every_s, 10);
	json_decref(a);
	/* a position answer changes only position and wait */
	snprintf(s.music, sizeof(s.music), "hold");
	a = j("{\"ok\":true,\"position\":2,\"expected_wait_s\":40,\"music\":\"other\"}");
	ASSERT_EQ_INT(md_queue_read_answer(a, false, &s, &r, &why), MD_Q_OK);
	ASSERT_EQ_INT(s.position, 2);
	ASSERT_EQ_STR(s.music, "hold");
	json_decref(a);
}

TEST(enqueue_answer_refused_and_hostile)
{
	struct md_q_settings s = { 0 };
	struct md_q_target r;
	const char *why;
	json_t *a = j("{\"ok\":false,\"why\":\"full\",\"route\":{\"type\":\"agent\",\"name\":\"1001\"}}");

	ASSERT_EQ_INT(md_queue_read_answer(a, true, &s, &r, &why), MD_Q_REFUSED);
	ASSERT_EQ_STR(why, "full");
	ASSERT_EQ_INT(r.type, MD_QT_AGENT);
	ASSERT_EQ_STR(r.name, "1001");
	json_decref(a);
	a = j("{\"ok\":false,\"why\":\"no such queue\"}");
	ASSERT_EQ_INT(md_queue_read_answer(a, true, &s, &r, &why), MD_Q_REFUSED);
	ASSERT_EQ_INT(r.type, MD_QT_NONE);
	json_decref(a);
	/* a route mediad cannot take: refused without route (the fallback) */
	a = j("{\"ok\":false,\"why\":\"full\",\"route\":{\"type\":\"agent\",\"name\":\"../x\"}}");
	ASSERT_EQ_INT(md_queue_read_answer(a, true, &s, &r, &why), MD_Q_REFUSED);
	ASSERT_EQ_INT(r.type, MD_QT_NONE);
	json_decref(a);
	static const char *const bad[] = {
		"[]", "{}", "{\"ok\":1}", "{\"ok\":true}", "{\"ok\":true,\"position\":0}",
		"{\"ok\":true,\"position\":\"3\"}", "{\"ok\":true,\"position\":3,\"expected_wait_s\":-5}",
		"{\"ok\":true,\"position\":3,\"expected_wait_s\":99999999}",
		"{\"ok\":true,\"position\":3,\"music\":\"../../etc/passwd\"}",
		"{\"ok\":true,\"position\":3,\"announce\":[]}",
		"{\"ok\":true,\"position\":3,\"announce\":{\"every_s\":-1}}",
		"{\"ok\":true,\"position\":3,\"announce\":{\"every_s\":\"30\"}}",
	};
	for (size_t i = 0; i < CC_ARRAY_LEN(bad); i++) {
		a = j(bad[i]);
		if (md_queue_read_answer(a, true, &s, &r, &why) != MD_Q_BAD)
			FAILF("taken: %s", bad[i]);
		json_decref(a);
	}
}

TEST(targets)
{
	struct md_q_target t;
	json_t *a;
	static const char *const good[] = {
		"{\"type\":\"queue\",\"name\":\"general\"}", "{\"type\":\"agent\",\"name\":\"1001\"}",
		"{\"type\":\"number\",\"name\":\"+8675512345678\"}", "{\"type\":\"flow\",\"name\":\"main\"}",
		"{\"type\":\"hangup\"}", "{\"type\":\"hangup\",\"prompt\":\"closed\"}",
	};
	static const char *const bad[] = {
		"null", "{}", "{\"type\":\"voicemail\",\"name\":\"x\"}", "{\"type\":\"queue\"}",
		"{\"type\":\"agent\",\"name\":\"1\"}", "{\"type\":\"agent\",\"name\":\"10a1\"}",
		"{\"type\":\"number\",\"name\":\"8675512345678\"}", "{\"type\":\"flow\",\"name\":\"Main\"}",
		"{\"type\":\"hangup\",\"prompt\":\"../x\"}", "{\"type\":\"hangup\",\"prompt\":3}",
	};

	for (size_t i = 0; i < CC_ARRAY_LEN(good); i++) {
		a = j(good[i]);
		if (md_queue_read_target(a, &t) != 0)
			FAILF("refused: %s", good[i]);
		json_decref(a);
	}
	a = j("{\"type\":\"hangup\"}");
	ASSERT(md_queue_read_target(a, &t) == 0 && !strcmp(t.prompt, "goodbye"));
	json_decref(a);
	for (size_t i = 0; i < CC_ARRAY_LEN(bad); i++) {
		a = j(bad[i]);
		if (md_queue_read_target(a, &t) == 0)
			FAILF("taken: %s", bad[i]);
		ASSERT_EQ_INT(t.type, MD_QT_NONE);
		json_decref(a);
	}
}

TEST(offers)
{
	struct md_q_offer o;
	const char *why;
	json_t *a = j("{\"id\":\"x\",\"call\":\"" CALL "\",\"tenant\":\"t\",\"offer\":\"" OFFER "\","
	              "\"ring_s\":15,\"agents\":[{\"agent\":\"1001\",\"epoch\":7},"
	              "{\"agent\":\"1002\",\"epoch\":3,\"record\":true}]}");

	ASSERT_EQ_INT(md_queue_read_offer(a, &o, &why), 0);
	ASSERT_EQ_INT((int)o.n, 2);
	/* routingd's recording decision, per agent (absent: not recorded) */
	ASSERT(!o.agents[0].record);
	ASSERT(o.agents[1].record);
	ASSERT_EQ_STR(o.agents[1].agent, "1002");
	ASSERT_EQ_INT((int)o.agents[0].epoch, 7);
	ASSERT_EQ_INT(o.ring_s, 15);
	ASSERT_EQ_STR(o.callback, "");
	json_decref(a);
	a = j("{\"call\":\"" CALL "\",\"offer\":\"" OFFER "\",\"agents\":[{\"agent\":\"1001\",\"epoch\":0}],"
	      "\"callback\":\"+8613900000888\"}");
	ASSERT_EQ_INT(md_queue_read_offer(a, &o, &why), 0);
	ASSERT_EQ_STR(o.callback, "+8613900000888");
	ASSERT_EQ_INT(o.ring_s, 15);
	json_decref(a);
#define BASE "\"call\":\"" CALL "\",\"offer\":\"" OFFER "\""
	static const char *const bad[] = {
		"{\"offer\":\"" OFFER "\",\"agents\":[{\"agent\":\"1001\",\"epoch\":1}]}",
		"{\"call\":\"x\",\"offer\":\"" OFFER "\",\"agents\":[{\"agent\":\"1001\",\"epoch\":1}]}",
		"{\"call\":\"" CALL "\",\"agents\":[{\"agent\":\"1001\",\"epoch\":1}]}",
		"{" BASE ",\"agents\":[]}", "{" BASE "}", "{" BASE ",\"agents\":{}}",
		"{" BASE ",\"agents\":[{\"agent\":\"1001\"}]}",
		"{" BASE ",\"agents\":[{\"agent\":\"1001\",\"epoch\":-1}]}",
		"{" BASE ",\"agents\":[{\"agent\":\"sip:1001@x\",\"epoch\":1}]}",
		"{" BASE ",\"agents\":[{\"agent\":\"1001\",\"epoch\":1},{\"agent\":\"1001\",\"epoch\":2}]}",
		"{" BASE ",\"ring_s\":0,\"agents\":[{\"agent\":\"1001\",\"epoch\":1}]}",
		"{" BASE ",\"ring_s\":301,\"agents\":[{\"agent\":\"1001\",\"epoch\":1}]}",
		"{" BASE ",\"callback\":\"13900000888\",\"agents\":[{\"agent\":\"1001\",\"epoch\":1}]}",
		"{" BASE ",\"agents\":[{\"agent\":\"1001\",\"epoch\":1,\"record\":\"yes\"}]}",
		"{" BASE ",\"agents\":[{\"agent\":\"1001\",\"epoch\":1,\"record\":1}]}",
	};
	for (size_t i = 0; i < CC_ARRAY_LEN(bad); i++) {
		a = j(bad[i]);
		if (md_queue_read_offer(a, &o, &why) == 0)
			FAILF("taken: %s", bad[i]);
		ASSERT(why != NULL);
		json_decref(a);
	}
	/* 17 agents: more legs than one offer rings */
	json_t *many = j("{" BASE "}"), *list = json_array();
	for (int i = 0; i < 17; i++) {
		char ext[8];
		snprintf(ext, sizeof(ext), "%d", 1000 + i);
		json_array_append_new(list, json_pack("{s:s,s:i}", "agent", ext, "epoch", 1));
	}
	json_object_set_new(many, "agents", list);
	ASSERT(md_queue_read_offer(many, &o, &why) != 0);
	json_decref(many);
}

TEST(minutes_and_announcements)
{
	struct md_q_settings s = { .say_position = true, .say_wait = true, .lang = "zh" };
	char names[MD_Q_PROMPTS][CC_FLOW_NAME_MAX];

	ASSERT_EQ_INT(md_queue_minutes(-1), 0);
	ASSERT_EQ_INT(md_queue_minutes(0), 1);
	ASSERT_EQ_INT(md_queue_minutes(60), 1);
	ASSERT_EQ_INT(md_queue_minutes(61), 2);
	ASSERT_EQ_INT(md_queue_minutes(900), 15);
	ASSERT_EQ_INT(md_queue_minutes(901), 16);
	s.position = 3;
	s.expected_wait_s = 130;
	ASSERT_EQ_INT((int)md_queue_announce(&s, names), 2);
	ASSERT_EQ_STR(names[0], "q_pos_zh_3");
	ASSERT_EQ_STR(names[1], "q_wait_zh_3");
	s.position = 21;
	s.expected_wait_s = 3600;
	snprintf(s.lang, sizeof(s.lang), "en");
	s.callback = true;
	ASSERT_EQ_INT((int)md_queue_announce(&s, names), 3);
	ASSERT_EQ_STR(names[0], "q_pos_en_more");
	ASSERT_EQ_STR(names[1], "q_wait_en_more");
	ASSERT_EQ_STR(names[2], "q_cb_hint_en");
	/* no wait known yet: the position alone; nothing to say: no hint either */
	s.position = 20;
	s.expected_wait_s = -1;
	ASSERT_EQ_INT((int)md_queue_announce(&s, names), 2);
	ASSERT_EQ_STR(names[0], "q_pos_en_20");
	s.say_position = false;
	ASSERT_EQ_INT((int)md_queue_announce(&s, names), 0);
}

static int count_type(const struct cc_flow *f, enum cc_flow_type t)
{
	int n = 0;

	for (size_t i = 0; i < f->n_nodes; i++)
		n += f->nodes[i].type == t;
	return n;
}

TEST(route_flows)
{
	struct md_q_target t = { .type = MD_QT_AGENT, .name = "1001" };
	struct cc_flow *f = md_queue_route_flow(&t);

	ASSERT(f);
	ASSERT_EQ_INT(f->nodes[f->start].type, CC_FLOW_AGENT);
	ASSERT_EQ_STR(f->nodes[f->start].extension, "1001");
	cc_flow_free(f);
	t = (struct md_q_target){ .type = MD_QT_NUMBER, .name = "+8675512345678" };
	ASSERT((f = md_queue_route_flow(&t)) && f->nodes[f->start].type == CC_FLOW_NUMBER);
	cc_flow_free(f);
	t = (struct md_q_target){ .type = MD_QT_FLOW, .name = "main" };
	ASSERT((f = md_queue_route_flow(&t)) && f->nodes[f->start].type == CC_FLOW_GOTO);
	cc_flow_free(f);
	t = (struct md_q_target){ .type = MD_QT_HANGUP, .prompt = "closed" };
	ASSERT((f = md_queue_route_flow(&t)) && !strcmp(f->nodes[f->start].prompts[0], "closed"));
	ASSERT_EQ_INT(count_type(f, CC_FLOW_HANGUP), 1);
	cc_flow_free(f);
	t = (struct md_q_target){ .type = MD_QT_QUEUE, .name = "general" };
	ASSERT(md_queue_route_flow(&t) == NULL);   /* routingd moves those itself */
	t = (struct md_q_target){ .type = MD_QT_AGENT, .name = "x y" };
	ASSERT(md_queue_route_flow(&t) == NULL);   /* never a flow of a bad name */
	f = md_queue_only_flow("repair");
	ASSERT(f && f->nodes[f->start].type == CC_FLOW_QUEUE);
	ASSERT_EQ_STR(f->nodes[f->start].queue, "repair");
	ASSERT(f->nodes[f->start].fallback != CC_FLOW_NO_NODE);
	cc_flow_free(f);
	ASSERT(md_queue_only_flow("Repair") == NULL);
	ASSERT(md_queue_only_flow("") == NULL);
}

TEST(callback_numbers)
{
	char n[MD_Q_NUMBER_MAX];

	ASSERT_EQ_INT(md_queue_callback_number("", "+8613900000888", n), 0);
	ASSERT_EQ_STR(n, "+8613900000888");
	ASSERT_EQ_INT(md_queue_callback_number("", "", n), EINVAL);        /* withheld: key one */
	ASSERT_EQ_INT(md_queue_callback_number("13900000999", "", n), 0);
	ASSERT_EQ_STR(n, "+8613900000999");
	ASSERT_EQ_INT(md_queue_callback_number("075512345678", "", n), 0);
	ASSERT_EQ_STR(n, "+8675512345678");
	ASSERT_EQ_INT(md_queue_callback_number("0012025550123", "", n), 0);
	ASSERT_EQ_STR(n, "+12025550123");
	ASSERT_EQ_INT(md_queue_callback_number("12345678", "", n), EINVAL); /* no area code */
	ASSERT_EQ_INT(md_queue_callback_number("1234", "", n), EINVAL);
	ASSERT_EQ_INT(md_queue_callback_number("123456789012345678", "", n), EINVAL);
	ASSERT_EQ_INT(md_queue_callback_number("1390000*888", "", n), EINVAL);
	ASSERT_EQ_INT(md_queue_callback_number("00", "", n), EINVAL);
	ASSERT_EQ_STR(n, "");
}

TEST(fail_reasons_and_hold_sdp)
{
	static const char hold[] = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
	                           "t=0 0\r\nm=audio 4000 RTP/AVP 8\r\na=sendonly\r\n";
	static const char inactive[] = "v=0\r\nm=audio 4000 RTP/AVP 8\r\na=inactive\r\n";
	static const char talk[] = "v=0\r\nm=audio 4000 RTP/AVP 8\r\na=sendrecv\r\n";
	static const char sneaky[] = "v=0\r\ns=a=sendonly\r\nm=audio 4000 RTP/AVP 8\r\n";

	ASSERT_EQ_STR(md_queue_fail_reason(480), "not registered");
	ASSERT_EQ_STR(md_queue_fail_reason(486), "busy");
	ASSERT_EQ_STR(md_queue_fail_reason(408), "no answer");
	ASSERT_EQ_STR(md_queue_fail_reason(603), "rejected");
	ASSERT(md_queue_sdp_holds(hold, strlen(hold)));
	ASSERT(md_queue_sdp_holds(inactive, strlen(inactive)));
	ASSERT(!md_queue_sdp_holds(talk, strlen(talk)));
	ASSERT(!md_queue_sdp_holds(sneaky, strlen(sneaky)));
	ASSERT(!md_queue_sdp_holds(hold, 20));
	ASSERT(!md_queue_sdp_holds(NULL, 0));
}

TEST_LIST(T(enqueue_body), T(enqueue_answer_ok), T(enqueue_answer_refused_and_hostile), T(targets),
          T(offers), T(minutes_and_announcements), T(route_flows), T(callback_numbers),
          T(fail_reasons_and_hold_sdp))
