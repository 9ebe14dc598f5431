/*
 * re_inc.h: the parts of libre 1.1.0 mediad uses, and librem's resampler.
 * <re.h> is not included whole: its re_json.h redeclares jansson's
 * JSON_STRING/JSON_NULL, and <rem.h> pulls rem_goertzel.h, which clashes
 * with spandsp's goertzel_*. Order matters (re.h's own order).
 */
#ifndef MD_RE_INC_H
#define MD_RE_INC_H

#include <re_types.h>
#include <re_fmt.h>
#include <re_mbuf.h>
#include <re_msg.h>
#include <re_list.h>
#include <re_sa.h>
#include <re_hash.h>
#include <re_http.h>
#include <re_jbuf.h>
#include <re_main.h>
#include <re_mem.h>
#include <re_mqueue.h>
#include <re_net.h>
#include <re_rtp.h>
#include <re_sdp.h>
#include <re_uri.h>
#include <re_sip.h>
#include <re_sipsess.h>
#include <re_sipevent.h>
#include <re_sys.h>
#include <re_tcp.h>
#include <re_telev.h>
#include <re_tmr.h>
#include <re_udp.h>

#include <rem_fir.h>
#include <rem_auresamp.h>

#endif
