/*
 * sip.h: mediad's SIP side (libre sip + sipsess): UDP on 127.0.0.1, the
 * INVITEs Kamailio sends it, and the legs it sends to Kamailio.
 *
 * An INVITE is taken only from Kamailio's address (CC_MEDIA_PROXY, host
 * and port) and only with the headers docs/MEDIA.md lists, each checked:
 * X-CC-Call, X-CC-Tenant, X-CC-Flow (uuids) or instead X-CC-Queue (a queue's name), X-CC-Domain (a host name),
 * X-CC-Caller (+digits or empty; absent = withheld). Anything else gets
 * 403 at once; INVITEs are passed on (md_sip_invite_h) only when whole.
 */
#ifndef MD_SIP_H
#define MD_SIP_H

#include <stdbool.h>

#include "id.h"
#include "re_inc.h"

#define MD_DOMAIN_MAX 254
#define MD_NUMBER_MAX 33             /* "+" and up to 31 digits (an extension too), NUL */

struct md_invite {                   /* an INVITE's checked headers */
	char call[CC_UUID_LEN];
	char tenant[CC_UUID_LEN];
	char flow[CC_UUID_LEN];
	char domain[MD_DOMAIN_MAX];
	char caller[MD_NUMBER_MAX];      /* "" when withheld */
	char called[MD_NUMBER_MAX];      /* the Request-URI user */
	char queue[64];                  /* X-CC-Queue (a number that targets a queue): the
	                                    queue's name, flow ""; else "" */
};

typedef void (md_sip_invite_h)(const struct sip_msg *msg, const struct md_invite *inv, void *arg);

/* Listens on laddr; INVITEs from proxy only. 0 or an errno. */
int md_sip_init(const struct sa *laddr, const struct sa *proxy, md_sip_invite_h *h, void *arg);
/* Ends every session (BYE, CANCEL) and closes; force: drop what waits. */
void md_sip_close(bool force);
struct sip *md_sip(void);
struct sipsess_sock *md_sip_sock(void);
/* The SIP event socket: the NOTIFYs of a REFER mediad accepted. */
struct sipevent_sock *md_sip_event_sock(void);
/* "sip:host:port", the route of every leg mediad places (libre writes
 * "Route: <...;lr>" from it). */
const char *md_sip_route(void);
/* The secret of Kamailio's group 3 (CC_MEDIA_SECRET_FILE): every leg
 * mediad places carries it as X-CC-Auth (Kamailio removes it). "" sends
 * none. md_sip_set_auth: 0, or EINVAL for one that does not fit a header. */
int md_sip_set_auth(const char *secret);
const char *md_sip_auth(void);
/* A SIP URI "sip:<user>@<host>" into out (size n): 0 or EINVAL. */
int md_sip_uri(char *out, size_t n, const char *user, const char *host);

/* Refusals by reason (metrics). */
extern uint64_t md_sip_refused_source, md_sip_refused_headers;
extern uint64_t md_sip_refers_refused;   /* REFERs not relayed by Kamailio */

/* Checks (exposed for tests): a pl's text is a uuid / a host name / a
 * number (digits, optional leading +) or an extension; copies it into out. */
bool md_pl_uuid(const struct pl *pl, char out[CC_UUID_LEN]);
bool md_pl_host(const struct pl *pl, char *out, size_t n);
bool md_pl_number(const struct pl *pl, char *out, size_t n);
bool md_pl_name(const struct pl *pl, char *out, size_t n);
/* Parses an INVITE's X-CC-* headers and Request-URI user into inv: 0 or EPERM. */
int md_sip_parse_invite(const struct sip_msg *msg, struct md_invite *inv);

#endif
