#!/bin/bash
# SPDX-License-Identifier: ISC
# The command line, tcpdump-style: good and bad inputs.  Every bad input
# gives one clear line on stderr, a non-zero exit and nothing on stdout; a
# capture damaged midway is analysed as far as it reads, exit 0.
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib/iwtest.sh
T=$(mktemp -d /tmp/iw-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT

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
if need_corpus "a damaged capture" &&
    corpus_has suricata-verify/tls_DER-incomplete-header.pcap; then
	"$IW" -r "$CORPUS/suricata-verify/tls_DER-incomplete-header.pcap" \
	    --flows --all-tls >"$T/f" 2>"$T/err"
	ok $? "damaged capture (bogus record length) exits 0"
	grep -q 'warning' "$T/err"; ok $? "damaged capture: warning on stderr"
	grep -q '"input_cut_short":true' "$T/f"
	ok $? "damaged capture: stats say the input was cut short"
	grep -q '"event_type":"flow"' "$T/f"
	ok $? "damaged capture: the flows read are flushed"
	all_json "$T/f"; ok $? "damaged capture: every line is JSON"
	clean_stderr "$T/err" "damaged capture"
fi
size=$(stat -c %s pcaps/edge/interleaved.pcap)
head -c $((size - 37)) pcaps/edge/interleaved.pcap >"$T/cut.pcap"
"$IW" -r "$T/cut.pcap" --flows >"$T/g" 2>"$T/err"
ok $? "truncated file exits 0"
grep -q 'warning' "$T/err"; ok $? "truncated file: warning"
clean_stderr "$T/err" "truncated file"
grep -q '"input_cut_short":true' "$T/g"; ok $? "truncated file: cut short"
[ "$(grep -c '"event_type":"flow"' "$T/g")" -eq 3 ]
ok $? "truncated file: its three connections are flushed"

# mixed link types: our own pcapng reader for files; a pipe cannot be
if need_corpus "a pcapng mixing link types" &&
    corpus_has pcapplusplus/many_interfaces-1.pcapng; then
	"$IW" -r "$CORPUS/pcapplusplus/many_interfaces-1.pcapng" --flows \
	    >"$T/h" 2>"$T/err"
	ok $? "pcapng mixing link types, as a file"
	clean_stderr "$T/err" "pcapng mixing link types"
	grep -q '"event_type":"flow"' "$T/h"; ok $? "... flows decoded"
	"$IW" -r - <"$CORPUS/pcapplusplus/many_interfaces-1.pcapng" \
	    >"$T/i" 2>"$T/err"
	grep -q 'mixes link-layer types' "$T/err"
	ok $? "... from a pipe: says why libpcap cannot read it"
	clean_stderr "$T/err" "pcapng mixing link types, piped"
fi

# usernames in events: plain, hash, omit (LOGIN in the clear in ndpi/imap)
if need_corpus "--usernames on a cleartext LOGIN" &&
    corpus_has ndpi/imap.pcap; then
	"$IW" -r "$CORPUS/ndpi/imap.pcap" >"$T/j"
	grep -q '"username":"samir"' "$T/j"; ok $? "--usernames plain (default)"
	"$IW" -r "$CORPUS/ndpi/imap.pcap" --usernames hash \
	    --username-salt s3 >"$T/k"
	! grep -q 'samir' "$T/k" && grep -q '"username":"sha256:' "$T/k"
	ok $? "--usernames hash"
	"$IW" -r "$CORPUS/ndpi/imap.pcap" --usernames omit >"$T/l"
	! grep -q '"username"' "$T/l"; ok $? "--usernames omit"
fi
# Every file imapwatch creates (include/outfile.h): 0640 unless the umask
# takes more away, an existing file's mode kept, and never written
# through a symbolic link planted where the file goes.
creates() {	# umask, directory: runs imapwatch creating one file of each kind
	(umask "$1"
	 "$IW" -r "$PCAP" -o "$2/events.json" --summary="$2/summary.txt" \
	    --write-alerted "$2/alerted.pcap" >/dev/null 2>"$2/err"
	 IW_EVENT_LOG=$2 "$IW" -r "$PCAP" >/dev/null 2>>"$2/err")
}
pidfile_mode() {	# umask, directory: the pid file's mode while it runs
	local pid n
	mkfifo "$2/in"
	(umask "$1"; exec "$IW" -r - --pidfile "$2/pid" -o /dev/null \
	    <"$2/in" 2>>"$2/err") &
	pid=$!
	exec 3>"$2/in"
	head -c 24 "$PCAP" >&3		# the header: it runs, waiting
	for n in $(seq 100); do [ -s "$2/pid" ] && break; sleep 0.05; done
	stat -c %a "$2/pid"
	tail -c +25 "$PCAP" >&3
	exec 3>&-
	wait $pid
}
for u in 022 077 000; do
	D=$T/mode-$u
	mkdir "$D"
	creates $u "$D"
	case $u in 077) want=600 ;; *) want=640 ;; esac
	modes=$(stat -c %a "$D/events.json" "$D/summary.txt" \
	    "$D/alerted.pcap" "$D"/imapwatch-*.ndjson | sort -u | tr '\n' ' ')
	pm=$(pidfile_mode $u "$D")
	[ "$modes" = "$want " ] && [ "$pm" = $want ]
	ok $? "umask $u: -o, --summary=, --write-alerted, IW_EVENT_LOG and --pidfile files are created $want (modes: $modes, pid file $pm)"
	[ ! -s "$D/err" ]; ok $? "umask $u: nothing on stderr $(head -c 200 "$D/err")"
done
D=$T/existing
mkdir "$D"
printf '' >"$D/events.json"
chmod 604 "$D/events.json"
"$IW" -r "$PCAP" -o "$D/events.json"
[ "$(stat -c %a "$D/events.json")" = 604 ] && [ -s "$D/events.json" ]
ok $? "-o to an existing file appends and keeps its mode (logrotate's create decides it)"

# a symbolic link planted where the file goes is refused, naming the file
D=$T/links
mkdir "$D"
for opt in -o --summary= --write-alerted --pidfile; do
	ln -sf "$D/target" "$D/link"
	case $opt in
	*=) "$IW" -r "$PCAP" "$opt$D/link" >"$D/out" 2>"$D/err" ;;
	*) "$IW" -r "$PCAP" $opt "$D/link" >"$D/out" 2>"$D/err" ;;
	esac
	rc=$?
	[ $rc -eq 1 ] && [ ! -e "$D/target" ] && [ ! -s "$D/out" ] &&
	    [ "$(wc -l <"$D/err")" -eq 1 ] &&
	    grep -q "^imapwatch: .*$D/link: is a symbolic link" "$D/err"
	ok $? "$opt through a planted symbolic link: refused, exit $rc, one line: $(head -c 160 "$D/err")"
done
# the event log's name has the pid in it: plant the link for the pid
# the command will have (exec keeps it)
IW_EVENT_LOG=$D IW=$IW PCAP=$PCAP bash -c \
    'ln -s "$IW_EVENT_LOG/target" "$IW_EVENT_LOG/imapwatch-$$.ndjson"
     exec "$IW" -r "$PCAP"' >"$D/out" 2>"$D/err"
rc=$?
[ $rc -eq 0 ] && [ ! -e "$D/target" ] && [ -s "$D/out" ] &&
    grep -q "IW_EVENT_LOG: $D/imapwatch-[0-9]*.ndjson: is a symbolic link" "$D/err"
ok $? "IW_EVENT_LOG through a planted symbolic link: not followed, said on stderr, the run goes on (exit $rc): $(head -c 160 "$D/err")"

# IW_EVENT_LOG is ignored by a process started with raised privileges
# (secure_getenv): a copy given a file capability, run by nobody, writes
# no copy; the same copy without it does
if [ "$(id -u)" != 0 ]; then
	skip "IW_EVENT_LOG under file capabilities (setcap and setpriv need root)"
else
	D=$T/caps
	chmod 711 "$T"		# nobody walks through to $D
	mkdir -m 755 "$D" && mkdir -m 1777 "$D/ev"
	cp "$IW" "$D/iw-cap" && cp "$IW" "$D/iw-plain" && cp "$PCAP" "$D/in.pcap"
	chmod 644 "$D/in.pcap"
	setcap cap_net_raw+ep "$D/iw-cap"
	for b in iw-cap iw-plain; do
		IW_EVENT_LOG=$D/ev setpriv --reuid=nobody --regid=nogroup \
		    --clear-groups "$D/$b" -r "$D/in.pcap" >"$D/$b.out" 2>&1
	done
	[ -s "$D/iw-cap.out" ] && [ -s "$D/iw-plain.out" ] &&
	    ! ls "$D"/ev/iw-cap-* >/dev/null 2>&1 &&
	    ls "$D"/ev/iw-plain-* >/dev/null 2>&1
	ok $? "IW_EVENT_LOG: ignored by imapwatch with a file capability run by nobody, honoured without ($(ls "$D/ev" | tr '\n' ' '))"
fi
finish
