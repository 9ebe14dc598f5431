/*
 * sip.c: the SIP transport, the INVITE gate and the route to Kamailio
 * (sip.h). Nothing here knows about calls: call.c takes what passes.
 */
#include <ctype.h>
#include <string.h>

#include "log.h"
#include "sip.h"

uint64_t md_sip_refused_source, md_sip_refused_headers;
uint64_t md_sip_refers_refused;

static struct {
	struct sip *sip;
	struct sipsess_sock *sock;
	struct sipevent_sock *evsock;    /* a REFER's implicit subscription (its NOTIFYs) */
	struct sa proxy;
	char route[80];
	md_sip_invite_h *h;
	void *arg;
} S;

bool md_pl_uuid(const struct pl *pl, char out[CC_UUID_LEN])
{
	if (!pl || pl->l != CC_UUID_LEN - 1)
		return false;
	memcpy(out, pl->p, pl->l);
	out[pl->l] = 0;
	return cc_uuid_valid(out);
}

bool md_pl_host(const struct pl *pl, char *out, size_t n)
{
	if (!pl || pl->l == 0 || pl->l >= n)
		return false;
	for (size_t i = 0; i < pl->l; i++) {
		unsigned char c = (unsigned char)pl->p[i];
		if (!isalnum(c) && c != '.' && c != '-')
			return false;
	}
	if (pl->p[0] == '.' || pl->p[0] == '-')
		return false;
	memcpy(out, pl->p, pl->l);
	out[pl->l] = 0;
	return true;
}

bool md_pl_number(const struct pl *pl, char *out, size_t n)
{
	size_t i = 0;

	if (!pl || pl->l >= n || pl->l > MD_NUMBER_MAX - 1)
		return false;
	if (pl->l && pl->p[0] == '+')
		i = 1;
	if (i == pl->l && pl->l)             /* "+" alone */
		return false;
	for (; i < pl->l; i++)
		if (!isdigit((unsigned char)pl->p[i]))
			return false;
	memcpy(out, pl->p, pl->l);
	out[pl->l] = 0;
	return true;
}

/* A queue's name: 1 to 63 of a-z, 0-9, '_', '-', starting with a letter or digit. */
bool md_pl_name(const struct pl *pl, char *out, size_t n)
{
	if (!pl->l || pl->l >= n || pl->l > 63 || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", pl->p[0]))
		return false;
	for (size_t i = 0; i < pl->l; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", pl->p[i]) || !pl->p[i])
			return false;
	memcpy(out, pl->p, pl->l);
	out[pl->l] = 0;
	return true;
}

/* The header's value, trimmed; exactly one such header. */
static const struct sip_hdr *one_xhdr(const struct sip_msg *msg, const char *name)
{
	if (sip_msg_xhdr_count(msg, name) != 1)
		return NULL;
	return sip_msg_xhdr(msg, name);
}

int md_sip_parse_invite(const struct sip_msg *msg, struct md_invite *inv)
{
	const struct sip_hdr *h;

	memset(inv, 0, sizeof(*inv));
	if (!(h = one_xhdr(msg, "X-CC-Call")) || !md_pl_uuid(&h->val, inv->call))
		return EPERM;
	if (!(h = one_xhdr(msg, "X-CC-Tenant")) || !md_pl_uuid(&h->val, inv->tenant))
		return EPERM;
	/* a flow to run, or (a number that targets a queue) a queue to wait in */
	if (sip_msg_xhdr_count(msg, "X-CC-Queue")) {
		if (sip_msg_xhdr_count(msg, "X-CC-Flow") || !(h = one_xhdr(msg, "X-CC-Queue")) ||
		    !md_pl_name(&h->val, inv->queue, sizeof(inv->queue)))
			return EPERM;
	} else if (!(h = one_xhdr(msg, "X-CC-Flow")) || !md_pl_uuid(&h->val, inv->flow))
		return EPERM;
	if (!(h = one_xhdr(msg, "X-CC-Domain")) ||
	    !md_pl_host(&h->val, inv->domain, sizeof(inv->domain)))
		return EPERM;
	if (sip_msg_xhdr_count(msg, "X-CC-Caller") > 1)
		return EPERM;
	if ((h = sip_msg_xhdr(msg, "X-CC-Caller")) &&
	    !md_pl_number(&h->val, inv->caller, sizeof(inv->caller)))
		return EPERM;
	if (!md_pl_number(&msg->uri.user, inv->called, sizeof(inv->called)) || !inv->called[0])
		return EPERM;
	return 0;
}

static void on_connect(const struct sip_msg *msg, void *arg)
{
	struct md_invite inv;

	(void)arg;
	if (!sa_cmp(&msg->src, &S.proxy, SA_ALL)) {
		md_sip_refused_source++;
		char src[64];
		re_snprintf(src, sizeof(src), "%J", &msg->src);
		CC_WARN("INVITE from %s refused: not Kamailio", src);
		(void)sip_treply(NULL, S.sip, msg, 403, "Forbidden");
		return;
	}
	if (md_sip_parse_invite(msg, &inv) != 0) {
		md_sip_refused_headers++;
		CC_WARN("INVITE %.*s refused: X-CC-* headers missing or bad",
		        (int)(msg->callid.l > 80 ? 80 : msg->callid.l), msg->callid.p);
		(void)sip_treply(NULL, S.sip, msg, 403, "Forbidden");
		return;
	}
	S.h(msg, &inv, S.arg);
}

/* Requests outside a dialog that are not INVITEs: OPTIONS is answered
 * (Kamailio may ping), anything else 405. A REFER inside a dialog (a
 * To-tag) is the session's: an agent's phone transferring its call. */
static bool on_request(const struct sip_msg *msg, void *arg)
{
	(void)arg;
	if (!pl_strcmp(&msg->met, "OPTIONS")) {
		(void)sip_treplyf(NULL, NULL, S.sip, msg, false, 200, "OK",
		                  "Allow: INVITE, ACK, BYE, CANCEL, INFO, OPTIONS\r\n"
		                  "Content-Length: 0\r\n\r\n");
		return true;
	}
	/* a transfer is taken only as Kamailio relays it (route[XFER] decides
	 * who may send one): a REFER sent straight to mediad's port by someone
	 * who learnt the dialog's ids is refused like such an INVITE */
	if (!pl_strcmp(&msg->met, "REFER") && !sa_cmp(&msg->src, &S.proxy, SA_ALL)) {
		md_sip_refers_refused++;
		char src[64];
		re_snprintf(src, sizeof(src), "%J", &msg->src);
		CC_WARN("REFER from %s refused: not Kamailio", src);
		(void)sip_treply(NULL, S.sip, msg, 403, "Forbidden");
		return true;
	}
	if (!pl_strcmp(&msg->met, "INVITE") || !pl_strcmp(&msg->met, "ACK") ||
	    !pl_strcmp(&msg->met, "BYE") || !pl_strcmp(&msg->met, "CANCEL") ||
	    !pl_strcmp(&msg->met, "INFO") ||
	    (!pl_strcmp(&msg->met, "REFER") && pl_isset(&msg->to.tag)))
		return false;                 /* sipsess's (or a stray: it answers 481) */
	(void)sip_treplyf(NULL, NULL, S.sip, msg, false, 405, "Method Not Allowed",
	                  "Allow: INVITE, ACK, BYE, CANCEL, INFO, OPTIONS\r\n"
	                  "Content-Length: 0\r\n\r\n");
	return true;
}

static struct sip_lsnr *lsnr;

int md_sip_init(const struct sa *laddr, const struct sa *proxy, md_sip_invite_h *h, void *arg)
{
	int err;

	S.proxy = *proxy;
	S.h = h;
	S.arg = arg;
	if (re_snprintf(S.route, sizeof(S.route), "sip:%J", proxy) < 0)
		return EINVAL;
	err = sip_alloc(&S.sip, NULL, 32, 32, 32, "mediad", NULL, NULL);
	if (!err)
		err = sip_transp_add(S.sip, SIP_TRANSP_UDP, laddr);
	if (!err)
		err = sip_listen(&lsnr, S.sip, true, on_request, NULL);
	if (!err)
		err = sipsess_listen(&S.sock, S.sip, 32, on_connect, NULL);
	if (!err)
		err = sipevent_listen(&S.evsock, S.sip, 32, 32, NULL, NULL);
	if (err)
		md_sip_close(true);
	return err;
}

void md_sip_close(bool force)
{
	if (S.sock)
		sipsess_close_all(S.sock);
	S.sock = mem_deref(S.sock);
	S.evsock = mem_deref(S.evsock);
	lsnr = mem_deref(lsnr);
	if (S.sip)
		sip_close(S.sip, force);
	S.sip = mem_deref(S.sip);
}

struct sip *md_sip(void)
{
	return S.sip;
}

struct sipsess_sock *md_sip_sock(void)
{
	return S.sock;
}

struct sipevent_sock *md_sip_event_sock(void)
{
	return S.evsock;
}

const char *md_sip_route(void)
{
	return S.route;
}

/* The media secret Kamailio asks of every leg (X-CC-Auth), "" for none. */
static char auth[128];

int md_sip_set_auth(const char *secret)
{
	int k = snprintf(auth, sizeof(auth), "%s", secret ? secret : "");

	return k < 0 || (size_t)k >= sizeof(auth) || strpbrk(auth, "\r\n") ? EINVAL : 0;
}

const char *md_sip_auth(void)
{
	return auth;
}

int md_sip_uri(char *out, size_t n, const char *user, const char *host)
{
	int k = snprintf(out, n, "sip:%s@%s", user, host);

	return k < 0 || (size_t)k >= n ? EINVAL : 0;
}
