#!/bin/bash
# SPDX-License-Identifier: ISC
# The flow table: the cap with the oldest idle flow evicted, idle timeouts
# on packet time, and memory that grows with the flows present rather than
# with the cap.
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib/iwtest.sh
T=$(mktemp -d /tmp/iw-flows.XXXXXX)
trap 'rm -rf "$T"' EXIT

# jq-like: a value from the last stats event
stat() {
	"$PY" -c 'import json,sys
ev=[json.loads(l) for l in open(sys.argv[1])]
v=[e for e in ev if e["event_type"]=="stats"][-1]["stats"]
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"
}
count() { grep -c "$2" "$1"; }

# three interleaved connections, a table of one: two evictions, and each
# evicted connection still gets its flow event
"$IW" -r pcaps/edge/interleaved.pcap --flows --max-flows 1 >"$T/a"
ok $? "--max-flows 1 runs"
[ "$(stat "$T/a" tcp.flows_evicted)" -ge 2 ]
ok $? "--max-flows 1: evictions counted ($(stat "$T/a" tcp.flows_evicted))"
[ "$(count "$T/a" '"reason":"forced"')" -ge 2 ]
ok $? "--max-flows 1: evicted flows are reported with Suricata's reason forced"
[ "$(stat "$T/a" tcp.flows_peak)" -eq 1 ]
ok $? "--max-flows 1: never more than one flow at once"
"$IW" -r pcaps/edge/interleaved.pcap --flows >"$T/b"
[ "$(stat "$T/b" tcp.flows_evicted)" -eq 0 ] &&
    [ "$(stat "$T/b" tcp.flows_peak)" -eq 3 ]
ok $? "default cap: no eviction, three at once"

# idle timeout on packet time: the plain-login capture pauses 36 s
F="$CORPUS/bruteshark/IMAP - Login (Plaintext) 2.pcap"
if need_corpus "--tcp-timeout on a capture that pauses 36 s" &&
    corpus_has "bruteshark/IMAP - Login (Plaintext) 2.pcap"; then
	"$IW" -r "$F" --flows --tcp-timeout 30 >"$T/c"
	[ "$(stat "$T/c" tcp.flows_timeout)" -ge 1 ]
	ok $? "--tcp-timeout 30: a 36 s pause times the session out"
	grep '"event_type":"imap"' "$T/c" | grep -q '"end_reason":"timeout"'
	ok $? "... its imap event says timeout"
	"$IW" -r "$F" --flows >"$T/d"
	[ "$(stat "$T/d" tcp.flows_timeout)" -eq 0 ]
	ok $? "default timeout (1800 s): no timeout"
fi

# out-of-order bytes beyond the per-flow cap become gaps, counted
"$IW" -r pcaps/edge/out_of_order.pcap --flows >"$T/f"
[ "$(stat "$T/f" tcp.gaps)" -eq 0 ]; ok $? "out-of-order, default cap: no gap"
"$IW" -r pcaps/edge/out_of_order.pcap --flows --reassembly-flow-cap 1 >"$T/g"
[ "$(stat "$T/g" tcp.reassembly_cap_hits)" -gt 0 ] &&
    [ "$(stat "$T/g" tcp.gaps)" -gt 0 ]
ok $? "--reassembly-flow-cap 1: cap hits and gaps counted"
"$IW" -r pcaps/edge/out_of_order.pcap --flows --reassembly-cap 1 >"$T/h"
[ "$(stat "$T/h" tcp.reassembly_cap_hits)" -gt 0 ]
ok $? "--reassembly-cap 1 (all flows): cap hits counted"

# IP fragments beyond their memory cap are dropped and counted, not kept
"$IW" -r pcaps/edge/ipv4_frag.pcap --flows >"$T/i"
[ "$(stat "$T/i" capture.ip_fragments_reassembled)" -gt 0 ]
ok $? "fragments reassembled with the default memory"
"$IW" -r pcaps/edge/ipv4_frag.pcap --flows --frag-memory 0 >"$T/j"
[ "$(stat "$T/j" capture.ip_fragments_reassembled)" -eq 0 ]
ok $? "--frag-memory 0: nothing held, nothing reassembled"

# the table grows with the flows present: a huge cap costs nothing
"$IW" -r pcaps/edge/interleaved.pcap --max-flows 100000000 >"$T/e"
rss=$(stat "$T/e" memory.peak_rss)
[ "$rss" -lt $((64 << 20)) ]
ok $? "--max-flows 100000000 preallocates nothing (peak RSS $((rss >> 20)) MiB)"
finish
