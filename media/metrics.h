/*
 * metrics.h: mediad's Prometheus text on http://127.0.0.1:PORT/metrics
 * (libre's http server, on the loop): calls, legs, bridges, mixes, the
 * mixer's time per frame (histogram, p50/p99), RTP packets in/out/lost,
 * DTMF by source, SIP refusals.
 */
#ifndef MD_METRICS_H
#define MD_METRICS_H

#include <stdint.h>

int md_metrics_start(uint16_t port);
void md_metrics_stop(void);

#endif
