/* SPDX-License-Identifier: ISC */
/*
 * anomaly_eve.c - our anomaly kinds as Suricata's EVE anomaly object
 * (src/output-json-anomaly.c): "type" decode, stream or applayer;
 * stream events are named "stream.<event>" and have no layer; applayer
 * ones carry the parser's event name, "layer": "proto_parser" and the
 * flow's "app_proto".  Each of our kinds goes to Suricata's nearest
 * event (its src/decode-events.c and src/app-layer-ssl.c tables), or
 * keeps its own name where Suricata has none; our own name stays in
 * "kind" either way.  The table is listed in schema/EVENTS.md.
 */
#include <json.h>
#include <stdio.h>
#include <string.h>

#include "event.h"

struct anomaly_map {
	const char	*layer;		/* ours: tcp, imap, tls */
	const char	*kind;		/* ours */
	const char	*type;		/* Suricata's */
	const char	*event;		/* Suricata's, NULL: keep ours */
};

static const struct anomaly_map anomaly_map[] = {
	/* a datagram dropped for overlapping fragments (RFC 5722) */
	{ "ipv4", "ip_fragment_overlap", "decode", "ipv4.frag_overlap" },
	{ "ipv6", "ip_fragment_overlap", "decode", "ipv6.frag_overlap" },
	{ "tcp", "overlap_different_data_toserver", "stream",
	    "stream.reassembly_overlap_different_data" },
	{ "tcp", "overlap_different_data_toclient", "stream",
	    "stream.reassembly_overlap_different_data" },
	/* a reassembly cap that bit: the bytes held become a gap */
	{ "tcp", "reassembly_memcap", "stream", "stream.reassembly_seq_gap" },
	{ "tcp", "reassembly_flow_cap", "stream",
	    "stream.reassembly_seq_gap" },
	{ "tcp", "reassembly_segment_limit", "stream",
	    "stream.reassembly_seq_gap" },
	{ "tls", "invalid_record", "applayer", "INVALID_TLS_HEADER" },
	{ "tls", "invalid_handshake", "applayer",
	    "INVALID_HANDSHAKE_MESSAGE" },
	{ "tls", "handshake_message_too_long", "applayer",
	    "HANDSHAKE_INVALID_LENGTH" },
	{ "tls", "invalid_client_hello", "applayer",
	    "INVALID_HANDSHAKE_MESSAGE" },
	{ "tls", "invalid_server_hello", "applayer",
	    "INVALID_HANDSHAKE_MESSAGE" },
	{ "tls", "invalid_certificate", "applayer", "INVALID_CERTIFICATE" },
	{ "tls", "invalid_server_key_exchange", "applayer",
	    "INVALID_HANDSHAKE_MESSAGE" },
	{ "tls", "invalid_alert", "applayer", "INVALID_ALERT_MESSAGE" },
	{ "tls", "invalid_sslv2_message", "applayer",
	    "INVALID_SSLV2_HEADER" },
};

struct json_object *
iw_anomaly_eve(const char *type, const char *event, const char *layer)
{
	struct json_object *an = json_object_new_object();
	const struct anomaly_map *m = NULL;
	size_t i;

	for (i = 0; i < sizeof(anomaly_map) / sizeof(anomaly_map[0]); i++)
		if (strcmp(anomaly_map[i].layer, layer) == 0 &&
		    strcmp(anomaly_map[i].kind, event) == 0) {
			m = &anomaly_map[i];
			break;
		}
	if (m != NULL && strcmp(m->type, "decode") == 0) {
		/* below TCP: Suricata's decoder events have no layer */
		json_object_object_add(an, "type",
		    json_object_new_string("decode"));
		json_object_object_add(an, "event",
		    json_object_new_string(m->event));
	} else if (m != NULL ? strcmp(m->type, "stream") == 0 :
	    strcmp(layer, "tcp") == 0) {
		/* the reassembler's: Suricata's stream events, or ours
		 * under the same "stream." prefix */
		char name[96];

		if (m == NULL)
			snprintf(name, sizeof(name), "stream.%s", event);
		json_object_object_add(an, "type",
		    json_object_new_string("stream"));
		json_object_object_add(an, "event",
		    json_object_new_string(m != NULL ? m->event : name));
	} else {
		/* everything else a dissector (imap, tls) found: the
		 * dissector's buffer full too is the parser's trouble */
		json_object_object_add(an, "app_proto",
		    json_object_new_string(layer));
		json_object_object_add(an, "type",
		    json_object_new_string("applayer"));
		json_object_object_add(an, "event",
		    json_object_new_string(m != NULL ? m->event : event));
		json_object_object_add(an, "layer",
		    json_object_new_string("proto_parser"));
	}
	(void)type;
	json_object_object_add(an, "kind", json_object_new_string(event));
	return an;
}
