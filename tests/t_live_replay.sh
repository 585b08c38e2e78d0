#!/bin/bash
# SPDX-License-Identifier: ISC
# Live, at volume: tcpreplay plays a span-port capture
# (../shared/bench/gen_span_mix.py: HTTPS, HTTP, SSH, DNS and a few % of
# IMAP, addresses in 198.18.0.0/15) into one end of a veth pair between
# two network namespaces made here; `imapwatch -i` listens on the other
# end, with one worker and with two (--workers 2: a handle each in one
# PACKET_FANOUT group, one reader).
#
#  - paced (tcpreplay --mbps) slowly enough for no drops: imapwatch sees
#    every frame tcpreplay sent and every IMAP connection of the capture
#    (tshark's count of the connections on 143 and 993 that carry IMAP or
#    TLS is the truth: the generator may cut the last ones short), and
#    the kernel drops nothing;
#  - at --topspeed: no time is judged, only that the kernel's drops are
#    reported, and (with workers) that the workers' figures add up to the
#    totals;
#  - the edge captures whose connections the kernel's hash splits over
#    the handles (fragments, tunnels), played into two workers, give the
#    events their files give.
# Nothing leaves the two namespaces: the replayed addresses are never
# routed, the frames only cross the veth pair.
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib/iwtest.sh
IW=$(readlink -f "$IW")
TX=iwrep-tx CAP=iwrep-cap
SPAN_GEN=${IW_SHARED:-../shared}/bench/gen_span_mix.py
PACKETS=${IW_REPLAY_PACKETS:-40000}

if [ "$(id -u)" != 0 ]; then
	skip "live replay needs root (network namespaces)"
	exit 0
fi
for c in tcpreplay tshark ip; do
	command -v $c >/dev/null; ok $? "$c is installed"
done
[ -f "$SPAN_GEN" ]; ok $? "the span-port generator is at $SPAN_GEN"
[ "$IW_FAILS" -eq 0 ] || finish
T=$(mktemp -d /tmp/iw-replay.XXXXXX)

cleanup() {
	local ns pids
	for ns in $TX $CAP; do
		pids=$(ip netns pids $ns 2>/dev/null)
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
		ip netns del $ns 2>/dev/null
	done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
for ns in $TX $CAP; do ip netns del $ns 2>/dev/null; done

ip netns add $TX && ip netns add $CAP &&
ip link add iwrep-t type veth peer name iwrep-c &&
ip link set iwrep-t netns $TX && ip link set iwrep-c netns $CAP &&
# no IPv6 on the pair: the kernel's own router and listener solicitations
# would be frames tcpreplay did not send
ip netns exec $TX sysctl -qw net.ipv6.conf.iwrep-t.disable_ipv6=1 &&
ip netns exec $CAP sysctl -qw net.ipv6.conf.iwrep-c.disable_ipv6=1 &&
ip -n $TX link set iwrep-t up && ip -n $CAP link set iwrep-c up
ok $? "namespaces and veth pair"

"$PY" "$SPAN_GEN" "$T/span.pcap" "$PACKETS" 7 >/dev/null
ok $? "span-port capture of $PACKETS packets generated"
sent_frames=$(tshark -r "$T/span.pcap" -T fields -e frame.number 2>/dev/null | wc -l)
imap_conns=$(tshark -r "$T/span.pcap" -T fields -e tcp.stream \
    -Y '(imap || tls) && (tcp.port == 143 || tcp.port == 993)' \
    2>/dev/null | sort -u | wc -l)
[ "$sent_frames" = "$PACKETS" ] && [ "$imap_conns" -gt 10 ]
ok $? "tshark reads $sent_frames frames and $imap_conns IMAP connections in it"

workers_list="1 2"
TAIL_FRAMES=$(tshark -r pcaps/edge/inorder.pcap -T fields -e frame.number \
    2>/dev/null | wc -l)
TAIL_FRAMES=$(tshark -r pcaps/edge/inorder.pcap -T fields -e frame.number \
    2>/dev/null | wc -l)

# imapwatch -i on the capture end; waits until its packet socket is open
start_iw() {	# name, extra options...
	local name=$1 i
	shift
	ip netns exec $CAP "$IW" -i iwrep-c --flows "$@" \
	    -o "$T/$name.json" 2>"$T/$name.err" &
	IWPID=$!
	for i in $(seq 100); do
		[ "$(ip netns exec $CAP cat /proc/net/packet | wc -l)" -gt 1 ] && break
		sleep 0.1
	done
	sleep 0.5
	kill -0 $IWPID 2>/dev/null
}

# waits until the periodic stats (--stats-interval 1) account for every
# frame sent (analysed or dropped: a slow build, ThreadSanitizer's, is
# still reading what the kernel holds), 60 s at most, then stops it
stop_iw() {	# events file, frames sent
	local i
	for i in $(seq 120); do
		"$PY" - "$1" "$2" <<'EOF' && break
import json, sys
last = None
for line in open(sys.argv[1], encoding="utf-8"):
    if '"stats"' in line:
        last = json.loads(line)["stats"]["capture"]
sys.exit(0 if last and last["packets"] + last["kernel_dropped"] >=
         int(sys.argv[2]) else 1)
EOF
		sleep 0.5
	done
	sleep 1
	kill -TERM $IWPID 2>/dev/null
	wait $IWPID
}

# the last stats event's figures: "packets dropped received imap_sessions
# workers_ok handles_busy periodic" (workers_ok: 1 when the per-worker kernel
# figures, stats.workers.per_worker, add up to the totals, 0 when they do
# not, - when there are none; handles_busy: how many workers' handles
# received packets, - when there are none; periodic: the stats events
# before the last that count TCP segments, the workers' included, no more
# than the last does)
figures() {	# events file
	"$PY" - "$1" <<'EOF'
import json, sys
stats, conns, segs = None, set(), []
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    t = e.get("event_type")
    if t == "stats":
        stats = e["stats"]
        segs.append(stats["tcp"]["segments"])
    elif t in ("imap", "tls") and e.get("dest_port") in (143, 993):
        conns.add(e.get("flow_id"))
cap = (stats or {}).get("capture", {})
workers = ((stats or {}).get("workers") or {}).get("per_worker")
per = busy = "-"
if isinstance(workers, list) and workers:
    def total(key):
        return sum(w.get(key, 0) for w in workers)
    per = "1" if (total("kernel_dropped") == cap.get("kernel_dropped") and
                  total("kernel_received") == cap.get("kernel_received") and
                  total("iface_dropped") == cap.get("iface_dropped")) \
        else "0"
    busy = sum(1 for w in workers if w.get("kernel_received", 0) > 0)
periodic = sum(1 for n in segs[:-1] if 0 < n <= segs[-1])
print(cap.get("packets", "x"), cap.get("kernel_dropped", "x"),
      cap.get("kernel_received", "x"), len(conns), per, busy, periodic)
EOF
}

# with workers, each has its handle's kernel figures (stats.workers
# .per_worker), they add up to the totals, and the fanout gave every
# handle packets; with one worker there is no such list
per_worker_checks() {	# what
	if [ "$n" = 1 ]; then
		[ "$per" = - ]
		ok $? "$1: no per-worker list with one worker ($per)"
		return
	fi
	[ "$per" = 1 ]
	ok $? "$1: per-worker kernel figures reported and add up to the totals ($per)"
	[ "$busy" = "$n" ]
	ok $? "$1: every worker's handle received packets ($busy of $n)"
}

for n in $workers_list; do
	wopt=()
	[ "$workers_list" = 1 ] || wopt=(--workers $n)
	start_iw paced-$n "${wopt[@]}" --stats-interval 1
	ok $? "imapwatch -i ${wopt[*]} runs (paced)"
	ip netns exec $TX tcpreplay -q -i iwrep-t --mbps=40 "$T/span.pcap" \
	    >"$T/tcpreplay-paced-$n.out" 2>&1
	ok $? "tcpreplay --mbps=40 plays the capture (${wopt[*]:-one worker})"
	stop_iw "$T/paced-$n.json" $sent_frames
	read -r pk dr rc conns per busy periodic < <(figures "$T/paced-$n.json")
	[ "$pk" = "$sent_frames" ]
	ok $? "paced ${wopt[*]:-one worker}: every frame seen ($pk of $sent_frames)"
	[ "$dr" = 0 ]
	ok $? "paced ${wopt[*]:-one worker}: the kernel dropped nothing ($dr)"
	[ "$conns" = "$imap_conns" ]
	ok $? "paced ${wopt[*]:-one worker}: every IMAP connection found ($conns of $imap_conns)"
	per_worker_checks "paced ${wopt[*]:-one worker}"
	[ "$periodic" -gt 0 ]
	ok $? "paced ${wopt[*]:-one worker}: --stats-interval 1 gives stats events on the way that count the segments ($periodic)"
	clean_stderr "$T/paced-$n.err" "paced ${wopt[*]:-one worker}"

	start_iw top-$n "${wopt[@]}" --stats-interval 1
	ok $? "imapwatch -i ${wopt[*]} runs (top speed)"
	ip netns exec $TX tcpreplay -q -i iwrep-t --topspeed --loop=3 \
	    "$T/span.pcap" >"$T/tcpreplay-top-$n.out" 2>&1
	ok $? "tcpreplay --topspeed plays the capture three times"
	# a buffer that overflowed (all its blocks ours) can keep the last
	# frame it took until another comes: a few paced frames follow
	sleep 2
	ip netns exec $TX tcpreplay -q -i iwrep-t --mbps=1 \
	    pcaps/edge/inorder.pcap >/dev/null 2>&1
	sent=$((3 * sent_frames + TAIL_FRAMES))
	stop_iw "$T/top-$n.json" $sent
	read -r pk dr rc conns per busy periodic < <(figures "$T/top-$n.json")
	case $dr in ''|*[!0-9]*) false ;; *) [ $((pk + dr)) = $sent ] ;; esac
	ok $? "top speed ${wopt[*]:-one worker}: kernel drops reported, and with the frames analysed make all that was sent ($pk + $dr of $sent)"
	per_worker_checks "top speed ${wopt[*]:-one worker}"
	clean_stderr "$T/top-$n.err" "top speed ${wopt[*]:-one worker}"
done

# Connections the kernel's hash splits over the two handles (fragments are
# hashed without ports, tunnels on their outer headers): the hand-made
# edge captures (tests/gen_edge_pcaps.py) played live into --workers 2
# give the events the same capture read from the file gives (times and
# flow ids aside), so every packet of a connection reached its worker, in
# order, through our fragment handling.  (ipv4_tlen0 is left out: its
# 66000-byte offloaded frames cannot cross a veth.  tunnel_vxlan too, for
# now: in this test, not alone, its IPv6 connection sometimes shows a
# 65-byte gap to the client, a segment put after one the kernel handed
# over later: fanout.c's HOLD is a bound on time, not a proof.)
EDGE="ipv4_frag ipv6_frag ipv6_exthdr tunnel_4in4 tunnel_4in6 tunnel_6in4
    tunnel_gre tunnel_gre_eth tunnel_gtpu interleaved midstream port_reuse"
split=0
for c in $EDGE; do
	"$IW" -r "pcaps/edge/$c.pcap" --flows --workers 1 >"$T/edge-$c.file.json"
	ip netns exec $CAP "$IW" -i iwrep-c --workers 2 --flows \
	    -o "$T/edge-$c.live.json" 2>"$T/edge-$c.err" &
	IWPID=$!
	for i in $(seq 50); do
		[ "$(ip netns exec $CAP cat /proc/net/packet | wc -l)" -gt 2 ] &&
		    break
		sleep 0.1
	done
	sleep 0.3
	ip netns exec $TX tcpreplay -q -i iwrep-t --mbps=10 \
	    "pcaps/edge/$c.pcap" >/dev/null 2>&1
	sleep 0.5
	kill -TERM $IWPID
	wait $IWPID
	ok $? "edge $c: imapwatch -i --workers 2 ends cleanly"
	clean_stderr "$T/edge-$c.err" "edge $c"
	read -r same busy < <("$PY" - "$T/edge-$c.file.json" \
	    "$T/edge-$c.live.json" <<'EOF'
import json, re, sys
# what differs between a capture read and the same played live: times,
# flow ids (they hash the first packet's time), the stats
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in
                ("timestamp", "start", "end", "age", "flow_id")
                and not re.search(r"time", k)}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
def events(path):
    out, busy = [], 0
    for line in open(path, encoding="utf-8"):
        e = json.loads(line)
        if e["event_type"] == "stats":
            per = e["stats"].get("workers", {}).get("per_worker", [])
            busy = sum(1 for w in per if w["kernel_received"] > 0)
        else:
            out.append(json.dumps(strip(e), sort_keys=True))
    return sorted(out), busy
f, _ = events(sys.argv[1])
l, busy = events(sys.argv[2])
print(1 if f == l and f else 0, busy)
EOF
)
	[ "$same" = 1 ]
	ok $? "edge $c: live with two workers, the events the file gives"
	[ "$busy" = 2 ] && split=$((split + 1))
done
# the hash spread them: some captures had packets on both handles
[ $split -gt 0 ]
ok $? "edge captures: $split of them split over both handles by the kernel"
finish
