#!/bin/bash
# The command line, tcpdump-style: good and bad inputs.  Every bad input
# gives one clear line on stderr, a non-zero exit and nothing on stdout; a
# capture damaged midway is analysed as far as it reads, exit 0.
set -u
cd "$(dirname "$0")/.." || exit 2
IW=${IMAPWATCH:-./imapwatch}
PY=${PYTHON:-/usr/bin/python3}
CORPUS=${IW_SHARED:-../shared}/corpus
T=$(mktemp -d /tmp/iw-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT

ok() { if [ "$1" = 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fi; }

# every stdout line is a whole JSON object
all_json() {
	"$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    json.loads(l)' "$1" 2>/dev/null
}

# A bad invocation: non-zero exit, one line on stderr, empty stdout.
bad() {
	local what=$1; shift
	"$IW" "$@" >"$T/out" 2>"$T/err"
	local rc=$?
	[ $rc -ne 0 ] && [ ! -s "$T/out" ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
	    grep -q '^imapwatch: ' "$T/err"
	ok $? "$what: exit $rc, one line: $(head -c 120 "$T/err")"
}

PCAP=pcaps/edge/inorder.pcap

"$IW" --help >"$T/out" 2>&1; ok $? "--help exits 0"
grep -q -- '-r FILE' "$T/out"; ok $? "--help lists -r"
"$IW" --version >"$T/out" 2>&1; ok $? "--version exits 0"
grep -q '^imapwatch [0-9]' "$T/out"; ok $? "--version prints the version"

bad "unknown option" --no-such-option -r "$PCAP"
bad "unknown short option" -Q -r "$PCAP"
bad "missing argument" -r
bad "nothing to read"
bad "unreadable file" -r /nonexistent/file.pcap
bad "not a capture" -r /etc/passwd
bad "bad filter" -r "$PCAP" -f 'tcp port nonsense'
bad "bad trailing filter" -r "$PCAP" tcp and and
bad "filter twice" -r "$PCAP" -f tcp udp
bad "no such interface" -i iw-no-such-if0
bad "-r and -i together" -r "$PCAP" -i lo
bad "bad --usernames" -r "$PCAP" --usernames sometimes
bad "bad --max-flows" -r "$PCAP" --max-flows -5
bad "unwritable output" -r "$PCAP" -o /nonexistent/dir/events.json
bad "bad --server-name" -r "$PCAP" --server-name 'not-an-address=x'
bad "second file unreadable, before any event" -r "$PCAP" -r /nonexistent

# a good run: valid JSON, ends with stats
"$IW" -r "$PCAP" --flows >"$T/a" 2>"$T/err"; ok $? "good run exits 0"
all_json "$T/a"; ok $? "good run: every line is JSON"
tail -1 "$T/a" | grep -q '"event_type":"stats"'; ok $? "the run ends with stats"
[ ! -s "$T/err" ]; ok $? "good run: nothing on stderr"

# standard input gives the same events as the file
"$IW" -r - --flows <"$PCAP" >"$T/b" 2>/dev/null; ok $? "-r - exits 0"
cmp -s <(grep -v '"stats"' "$T/a") <(grep -v '"stats"' "$T/b")
ok $? "-r - gives the events of -r FILE"

# filters: -f and trailing words, as tshark and tcpdump
"$IW" -r "$PCAP" --flows -f 'tcp port 9' >"$T/c"; ok $? "-f runs"
! grep -q '"event_type":"flow"' "$T/c"; ok $? "-f 'tcp port 9' keeps no flow"
"$IW" -r "$PCAP" --flows tcp port 143 >"$T/d"; ok $? "trailing filter runs"
grep -q '"event_type":"flow"' "$T/d"; ok $? "trailing 'tcp port 143' keeps the flow"

# several files, one after another
"$IW" -r "$PCAP" -r pcaps/edge/vlan.pcap --flows >"$T/e"
[ "$(grep -c '"event_type":"flow"' "$T/e")" -ge 2 ]
ok $? "two -r files: flows of both"

# a capture cut short: analysed as far as it reads, warning, exit 0
if [ -f "$CORPUS/suricata-verify/tls_DER-incomplete-header.pcap" ]; then
	"$IW" -r "$CORPUS/suricata-verify/tls_DER-incomplete-header.pcap" \
	    --flows --all-tls >"$T/f" 2>"$T/err"
	ok $? "damaged capture (bogus record length) exits 0"
	grep -q 'warning' "$T/err"; ok $? "damaged capture: warning on stderr"
	grep -q '"input_cut_short":true' "$T/f"
	ok $? "damaged capture: stats say the input was cut short"
	grep -q '"event_type":"flow"' "$T/f"
	ok $? "damaged capture: the flows read are flushed"
	all_json "$T/f"; ok $? "damaged capture: every line is JSON"
else
	echo "skip - corpus not found"
fi
size=$(stat -c %s pcaps/edge/interleaved.pcap)
head -c $((size - 37)) pcaps/edge/interleaved.pcap >"$T/cut.pcap"
"$IW" -r "$T/cut.pcap" --flows >"$T/g" 2>"$T/err"
ok $? "truncated file exits 0"
grep -q 'warning' "$T/err"; ok $? "truncated file: warning"
grep -q '"input_cut_short":true' "$T/g"; ok $? "truncated file: cut short"
[ "$(grep -c '"event_type":"flow"' "$T/g")" -eq 3 ]
ok $? "truncated file: its three connections are flushed"

# mixed link types: our own pcapng reader for files; a pipe cannot be
if [ -f "$CORPUS/pcapplusplus/many_interfaces-1.pcapng" ]; then
	"$IW" -r "$CORPUS/pcapplusplus/many_interfaces-1.pcapng" --flows \
	    >"$T/h" 2>"$T/err"
	ok $? "pcapng mixing link types, as a file"
	grep -q '"event_type":"flow"' "$T/h"; ok $? "... flows decoded"
	"$IW" -r - <"$CORPUS/pcapplusplus/many_interfaces-1.pcapng" \
	    >"$T/i" 2>"$T/err"
	grep -q 'mixes link-layer types' "$T/err"
	ok $? "... from a pipe: says why libpcap cannot read it"
fi

# usernames in events: plain, hash, omit (LOGIN in the clear in ndpi/imap)
if [ -f "$CORPUS/ndpi/imap.pcap" ]; then
	"$IW" -r "$CORPUS/ndpi/imap.pcap" >"$T/j"
	grep -q '"username":"samir"' "$T/j"; ok $? "--usernames plain (default)"
	"$IW" -r "$CORPUS/ndpi/imap.pcap" --usernames hash \
	    --username-salt s3 >"$T/k"
	! grep -q 'samir' "$T/k" && grep -q '"username":"sha256:' "$T/k"
	ok $? "--usernames hash"
	"$IW" -r "$CORPUS/ndpi/imap.pcap" --usernames omit >"$T/l"
	! grep -q '"username"' "$T/l"; ok $? "--usernames omit"
fi
exit 0
