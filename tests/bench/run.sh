#!/bin/bash
# SPDX-License-Identifier: ISC
# tests/bench/run.sh - the benchmark behind `make bench`.
#
# Builds the capture generator, the floor (a bare libpcap loop that touches
# every byte) and a small timing wrapper into build/bench/, generates the
# captures (once: they are reused while the generator's version and the
# seed stay the same), then measures side by side, interleaved, on each
# capture read from the page cache:
#
#	floor FILE
#	./imapwatch -r FILE -o /dev/null		(and with --flows)
#	tshark -r FILE -q -z io,phs
#
# and prints wall time, MB/s (10^6 bytes of file a second), packets/s,
# peak RSS and throughput relative to the floor, with the targets of
# issues 2 and 4, and checks that imapwatch's stats and alerts count the
# sessions the generator wrote.  The same table goes to
# build/bench/results.md.
#
# Environment:
#	BENCH_DIR=/var/tmp/imapwatch-bench	scratch directory for captures
#	BENCH_SIZES="200M 2G"			capture sizes (K/M/G = 10^3/6/9)
#	BENCH_REPS=N				runs of each program a size
#						(default 9 below 1 GB, tshark 3;
#						5 above, tshark once)
#	BENCH_SEED=1				generator seed
#	BENCH_SKIP_TSHARK=1			no tshark at all
#	BENCH_SKIP_TSHARK_LARGE=1		no tshark on captures >= 1 GB
#	BENCH_STRICT=1				exit 1 when a target fails
#	BENCH_IMAPWATCH=PATH			the binary (default ./imapwatch)
#
# Quick run: BENCH_SIZES=50M make bench
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
OUT=$ROOT/build/bench
DIR=${BENCH_DIR:-/var/tmp/imapwatch-bench}
SIZES=${BENCH_SIZES:-"200M 2G"}
SEED=${BENCH_SEED:-1}
CC=${CC:-cc}
CFLAGS="-O2 -g -Wall -Wextra -std=gnu11"
IW=${BENCH_IMAPWATCH:-$ROOT/imapwatch}
status=0

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

# ---- build ----
mkdir -p "$OUT" || die "cannot create $OUT"
for p in libpcap openssl; do
	pkg-config --exists $p || die "pkg-config cannot find $p (make deps)"
done
$CC $CFLAGS -o "$OUT/gen_capture" tests/bench/gen_capture.c \
    $(pkg-config --cflags --libs openssl) -lm || die "building gen_capture"
$CC $CFLAGS -o "$OUT/floor" tests/bench/floor.c \
    $(pkg-config --cflags --libs libpcap) || die "building floor"
$CC $CFLAGS -o "$OUT/runstat" tests/bench/runstat.c || die "building runstat"
GENV=$("$OUT/gen_capture" -V)

# ---- sizes and disk space ----
bytes_of() {	# 200M -> 200000000
	local s=$1 n m=1
	n=${s%[kKmMgG]}
	case $s in
	*[kK]) m=1000 ;; *[mM]) m=1000000 ;; *[gG]) m=1000000000 ;;
	esac
	case $n in ''|*[!0-9]*) die "bad size in BENCH_SIZES: $s" ;; esac
	echo $((n * m))
}

mkdir -p "$DIR" "$DIR/logs" || die "cannot create $DIR"
case $DIR in "$ROOT"/*|/work/shared*) die "BENCH_DIR must be outside the repository and /work/shared" ;; esac

# A capture is reused when its summary says the same generator, seed and
# target, and the file has the size the summary gives.
capture_ok() {	# file target
	local f=$1 t=$2 sum
	[ -f "$f" ] && [ -f "$f.summary" ] || return 1
	sum=$(cat "$f.summary")
	case $sum in "$GENV seed=$SEED target=$t "*) ;; *) return 1 ;; esac
	[ "$(kv "$sum" bytes)" = "$(stat -c %s "$f")" ]
}

kv() {	# "k1=v1 k2=v2" key -> value
	local w
	for w in $1; do
		case $w in "$2="*) echo "${w#*=}"; return 0 ;; esac
	done
	echo ""
}

need=0
for s in $SIZES; do
	t=$(bytes_of "$s")
	f=$DIR/imap-mix-$s.pcap
	capture_ok "$f" "$t" || need=$((need + t + t / 50))
done
avail=$(( $(df -Pk "$DIR" | awk 'NR == 2 { print $4 }') * 1024 ))
if [ "$need" -gt 0 ]; then
	note "captures to generate: $((need / 1000000)) MB; free in $DIR: $((avail / 1000000)) MB"
	[ "$need" -lt "$avail" ] || die "not enough disk space in $DIR: need $((need / 1000000)) MB, have $((avail / 1000000)) MB (set BENCH_DIR or BENCH_SIZES)"
fi

# ---- generate ----
for s in $SIZES; do
	t=$(bytes_of "$s")
	f=$DIR/imap-mix-$s.pcap
	if capture_ok "$f" "$t"; then
		note "reusing $f"
		continue
	fi
	note "generating $f ..."
	rm -f "$f" "$f.summary"
	"$OUT/gen_capture" -q -S "$SEED" -s "$s" -o "$f.tmp" >"$f.summary.tmp" ||
	    { rm -f "$f.tmp" "$f.summary.tmp"; die "gen_capture failed for $s"; }
	mv "$f.tmp" "$f" && mv "$f.summary.tmp" "$f.summary" ||
	    die "cannot move $f.tmp"
done

# ---- what runs ----
have_iw=0
if [ -x "$IW" ]; then
	have_iw=1
	iw_flows=0
	"$IW" --help 2>&1 | grep -q -- '--flows' && iw_flows=1
else
	note "./imapwatch is not built: its rows are skipped (make at the root builds it)"
fi
have_tshark=0
if [ "${BENCH_SKIP_TSHARK:-0}" != 1 ]; then
	if command -v tshark >/dev/null 2>&1; then
		have_tshark=1
	else
		note "tshark not installed: its rows are skipped (apt-get install tshark)"
	fi
fi

declare -A WALLS RSS CPU FAILED SKIPPED
tools_for() {	# size -> program list
	local big=$1 l="floor"
	[ $have_iw = 1 ] && l="$l imapwatch"
	[ $have_iw = 1 ] && [ $iw_flows = 1 ] && l="$l imapwatch_flows"
	if [ $have_tshark = 1 ]; then
		if [ "$big" = 1 ] && [ "${BENCH_SKIP_TSHARK_LARGE:-0}" = 1 ]
		then :; else l="$l tshark"; fi
	fi
	echo "$l"
}

tool_cmd() {	# tool file -> the command, as an array CMD
	case $1 in
	floor)		CMD=("$OUT/floor" "$2") ;;
	imapwatch)	CMD=("$IW" -r "$2" -o /dev/null) ;;
	imapwatch_flows) CMD=("$IW" -r "$2" -o /dev/null --flows) ;;
	tshark)		CMD=(tshark -r "$2" -q -z io,phs) ;;
	esac
}

tool_label() {
	case $1 in
	floor)		echo "floor (libpcap loop)" ;;
	imapwatch)	echo "imapwatch" ;;
	imapwatch_flows) echo "imapwatch --flows" ;;
	tshark)		echo "tshark -z io,phs" ;;
	esac
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { tr ' ' '\n' | grep . | sort -g | head -1; }
maximum() { tr ' ' '\n' | grep . | sort -g | tail -1; }

memavail=$(awk '/^MemAvailable:/ { print $2 * 1024 }' /proc/meminfo)

# ---- measure ----
for s in $SIZES; do
	t=$(bytes_of "$s")
	f=$DIR/imap-mix-$s.pcap
	fsize=$(stat -c %s "$f")
	big=0
	[ "$t" -ge 1000000000 ] && big=1
	# Runs of a tenth of a second are noisy on a shared machine: nine of
	# each on the small captures, five on the large ones; tshark (seconds
	# to minutes) three times, once on the large ones, and after the
	# others, so its memory use does not sit between their runs.
	reps=${BENCH_REPS:-}
	[ -n "$reps" ] || { [ $big = 1 ] && reps=5 || reps=9; }
	treps=${BENCH_REPS:-}
	[ -n "$treps" ] || { [ $big = 1 ] && treps=1 || treps=3; }
	tools=$(tools_for $big)
	if [ $have_tshark = 1 ] && [ $big = 1 ] &&
	    [ "${BENCH_SKIP_TSHARK_LARGE:-0}" = 1 ]; then
		SKIPPED[$s]="tshark skipped on $s (BENCH_SKIP_TSHARK_LARGE=1)"
		note "${SKIPPED[$s]}"
	fi
	[ "$fsize" -lt "$memavail" ] ||
	    note "warning: $f ($((fsize / 1000000)) MB) is larger than free memory: runs will read from disk"
	note "warming the page cache with $f"
	cat "$f" >/dev/null
	for pass in others tshark; do
	for r in $(seq 1 "$reps"); do
		for tool in $tools; do
			[ $pass = tshark ] && [ $tool != tshark ] && continue
			[ $pass = others ] && [ $tool = tshark ] && continue
			[ $tool = tshark ] && [ "$r" -gt "$treps" ] && continue
			log=$DIR/logs/$s-$tool-$r
			tool_cmd $tool "$f"
			note "$s run $r/$reps: ${CMD[*]}"
			"$OUT/runstat" "$log.stat" "${CMD[@]}" \
			    >"$log.out" 2>"$log.err"
			rc=$?
			st=$(cat "$log.stat" 2>/dev/null)
			if [ $rc != 0 ] || [ -z "$st" ]; then
				note "$tool failed on $s (exit $rc): see $log.err"
				tail -3 "$log.err" >&2
				FAILED[$s|$tool]=1
				status=1
				continue
			fi
			WALLS[$s|$tool]="${WALLS[$s|$tool]:-} $(kv "$st" wall)"
			CPU[$s|$tool|$(kv "$st" wall)]=$(awk -v u="$(kv "$st" user)" -v y="$(kv "$st" sys)" 'BEGIN { printf "%.3f", u + y }')
			RSS[$s|$tool]="${RSS[$s|$tool]:-} $(kv "$st" maxrss_kib)"
		done
	done
	done
done

# ---- event check: imapwatch counts what the generator wrote ----
declare -A CHECK
check_events() {	# size file
	local s=$1 f=$2 ev=$DIR/events-$1.ndjson
	rm -f "$ev"
	if ! "$IW" -r "$f" -o "$ev" 2>"$DIR/logs/$s-events.err"; then
		CHECK[$s]="FAIL imapwatch exited non-zero (see $DIR/logs/$s-events.err)"
		return
	fi
	if ! command -v python3 >/dev/null 2>&1; then
		CHECK[$s]="skipped (no python3)"
		return
	fi
	CHECK[$s]=$(python3 - "$ev" "$f.summary" <<'EOF'
import json, sys
ev, summ = sys.argv[1], sys.argv[2]
want = dict(w.split("=", 1) for w in open(summ).read().split()[1:]
            if "=" in w)
stats = None
alerts = 0
bad = 0
for line in open(ev, encoding="utf-8"):
    try:
        e = json.loads(line)
    except ValueError:
        bad += 1
        continue
    t = e.get("event_type")
    if t == "stats":
        stats = e.get("stats", {})
    elif t == "alert" and e.get("alert", {}).get("signature") == \
            "cleartext_login":
        alerts += 1
if stats is None:
    print("FAIL no stats event")
    sys.exit()
ses = stats.get("sessions", {})
rows = [
    ("imap_cleartext", ses.get("imap_cleartext"), want["imap_cleartext"]),
    ("imap_starttls", ses.get("imap_starttls"), want["imap_starttls"]),
    ("imap_implicit_tls", ses.get("imap_implicit_tls"),
     want["imap_implicit_tls"]),
    ("cleartext_login alerts", alerts, want["cleartext_login"]),
    ("stats cleartext_login", ses.get("findings", {}).get("cleartext_login"),
     want["cleartext_login"]),
    ("packets", stats.get("capture", {}).get("packets"), want["packets"]),
    ("flows", stats.get("tcp", {}).get("flows"), want["sessions"]),
    ("gaps", stats.get("tcp", {}).get("gaps"), "0"),
]
wrong = [f"{n} {got} (wrote {w})" for n, got, w in rows if str(got) != w]
if bad:
    wrong.append(f"{bad} lines not JSON")
detail = ", ".join(f"{n}={got}" for n, got, w in rows[:4])
print(("FAIL " + "; ".join(wrong)) if wrong else ("PASS " + detail))
EOF
)
}
if [ $have_iw = 1 ]; then
	for s in $SIZES; do
		note "checking imapwatch's events on $s"
		check_events "$s" "$DIR/imap-mix-$s.pcap"
	done
fi

# ---- report ----
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "") print "-"; else printf f, v }'; }
verdict() { [ "$1" = 1 ] && echo PASS || echo FAIL; }

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
memtotal=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
git diff --quiet HEAD 2>/dev/null || commit="$commit+changes"
iwv=$([ $have_iw = 1 ] && "$IW" --version 2>&1 | head -1 || echo "imapwatch not built")
tsv=$([ $have_tshark = 1 ] && tshark --version 2>/dev/null | head -1 | sed 's/\.$//' || echo "tshark not run")

{
echo "## Benchmark ($(date -u +%Y-%m-%d))"
echo
echo "Machine: $cpu, $(nproc) cores, $memtotal; $(uname -sr). Commit $commit."
echo "$iwv; $tsv."
echo "Captures: \`gen_capture\` ($GENV, seed $SEED), read from the page cache;"
echo "MB = 10^6 bytes of capture file. MB/s, packets/s and the ratio to the"
echo "floor come from each program's best run (other load only adds time; the"
echo "median is shown too); CPU is user + system time of the best run (wall"
echo "above CPU means the machine was busy); peak RSS is the largest of the"
echo "runs (getrusage)."
echo
for s in $SIZES; do
	f=$DIR/imap-mix-$s.pcap
	sum=$(cat "$f.summary")
	echo "- $s: $(stat -c %s "$f") bytes, $(kv "$sum" packets) packets, $(kv "$sum" sessions) sessions ($(kv "$sum" imap_cleartext) cleartext, $(kv "$sum" imap_starttls) STARTTLS, $(kv "$sum" imap_implicit_tls) IMAPS of which $(kv "$sum" tls13) TLS 1.3 and $(( $(kv "$sum" tls12) - $(kv "$sum" imap_starttls) )) TLS 1.2), $(kv "$sum" messages) messages fetched, $(kv "$sum" retransmissions) retransmitted and $(kv "$sum" out_of_order) out-of-order segments, at most $(kv "$sum" max_concurrent) connections at once"
done
echo
echo "| Capture | Program | Runs | Best (s) | Median (s) | CPU (s) | MB/s | kpkt/s | Peak RSS (MiB) | Throughput vs floor |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
declare -A MBS RSSM
for s in $SIZES; do
	f=$DIR/imap-mix-$s.pcap
	fsize=$(stat -c %s "$f")
	pk=$(kv "$(cat "$f.summary")" packets)
	fl=$(echo "${WALLS[$s|floor]:-}" | minimum)
	for tool in floor imapwatch imapwatch_flows tshark; do
		w=$(echo "${WALLS[$s|$tool]:-}" | median)
		if [ -z "$w" ]; then
			[ -n "${FAILED[$s|$tool]:-}" ] &&
			    echo "| $s | $(tool_label $tool) | - | failed | | | | | | |"
			continue
		fi
		n=$(echo "${WALLS[$s|$tool]}" | wc -w)
		b=$(echo "${WALLS[$s|$tool]}" | minimum)
		rk=$(echo "${RSS[$s|$tool]}" | maximum)
		mbs=$(awk -v a="$fsize" -v w="$b" 'BEGIN { printf "%.1f", a / 1e6 / w }')
		kps=$(awk -v a="$pk" -v w="$b" 'BEGIN { printf "%.0f", a / 1e3 / w }')
		rm=$(awk -v k="$rk" 'BEGIN { printf "%.1f", k / 1024 }')
		rel=$(awk -v w="$b" -v f="$fl" 'BEGIN { if (f == "") print "-"; else if (100 * f / w < 10) printf "%.1f %%", 100 * f / w; else printf "%.0f %%", 100 * f / w }')
		MBS[$s|$tool]=$mbs
		RSSM[$s|$tool]=$rm
		echo "| $s | $(tool_label $tool) | $n | $(fmt "$b" %.3f) | $(fmt "$w" %.3f) | ${CPU[$s|$tool|$b]:--} | $mbs | $kps | $rm | $rel |"
	done
	[ -n "${SKIPPED[$s]:-}" ] && echo "| $s | tshark -z io,phs | - | skipped | | | | | | |"
done
echo
echo "Targets:"
echo
first=""
last=""
for s in $SIZES; do
	[ -n "$first" ] || first=$s
	last=$s
	fl=${MBS[$s|floor]:-}
	iw=${MBS[$s|imapwatch]:-}
	if [ -n "$fl" ] && [ -n "$iw" ]; then
		pct=$(awk -v a="$iw" -v b="$fl" 'BEGIN { printf "%.0f", 100 * a / b }')
		ok=$(awk -v a="$iw" -v b="$fl" 'BEGIN { print (a >= 0.6 * b) ? 1 : 0 }')
		ok2=$(awk -v a="$iw" -v b="$fl" 'BEGIN { print (a >= 0.4 * b) ? 1 : 0 }')
		echo "- $s: imapwatch throughput >= 60 % of the floor (issue 4): $pct % $(verdict $ok)"
		echo "- $s: imapwatch throughput >= 40 % of the floor (issue 2): $pct % $(verdict $ok2)"
		[ $ok = 1 ] || TFAIL=1
	else
		echo "- $s: imapwatch throughput vs the floor: n/a (imapwatch not measured)"
	fi
	r=${RSSM[$s|imapwatch]:-}
	if [ -n "$r" ]; then
		ok=$(awk -v r="$r" 'BEGIN { print (r < 64) ? 1 : 0 }')
		echo "- $s: imapwatch peak RSS < 64 MiB: $r MiB $(verdict $ok)"
		[ $ok = 1 ] || TFAIL=1
	fi
	if [ -n "${CHECK[$s]:-}" ]; then
		echo "- $s: imapwatch's stats and alerts count the sessions written: ${CHECK[$s]}"
		case ${CHECK[$s]} in FAIL*) TFAIL=1 ;; esac
	fi
done
if [ "$first" != "$last" ] && [ -n "${RSSM[$first|imapwatch]:-}" ] &&
    [ -n "${RSSM[$last|imapwatch]:-}" ]; then
	a=${RSSM[$first|imapwatch]}
	b=${RSSM[$last|imapwatch]}
	# Not growing: within 10 % or 2 MiB of the small capture's peak.
	ok=$(awk -v a="$a" -v b="$b" 'BEGIN { print (b <= a * 1.10 || b <= a + 2) ? 1 : 0 }')
	echo "- imapwatch peak RSS does not grow from $first to $last (within 10 % or 2 MiB): $a -> $b MiB $(verdict $ok)"
	[ $ok = 1 ] || TFAIL=1
fi
} >"$OUT/results.md.tmp"
mv "$OUT/results.md.tmp" "$OUT/results.md"

echo
cat "$OUT/results.md"
echo
echo "(written to build/bench/results.md; captures and logs in $DIR)"
if [ "${TFAIL:-0}" = 1 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then
	status=1
fi
exit $status
