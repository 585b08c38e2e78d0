/* SPDX-License-Identifier: ISC */
/*
 * engine.h - one packet at a time through decode, the flow table and
 * reassembly; the clock that drives timeouts is the packets' own.
 */
#ifndef IW_ENGINE_H
#define IW_ENGINE_H

#include "capture.h"
#include "iw.h"

void iw_engine_init(void);
void iw_engine_packet(const struct iw_rawpkt *);

/* Expire idle flows and fragments as of `now` (packet time). */
void iw_engine_tick(iw_time now);

/* The latest packet time seen (0 before the first packet). */
iw_time iw_engine_now(void);

/* End every flow (sessions and flow events), at the last packet time. */
void iw_engine_finish(void);

#endif /* IW_ENGINE_H */
