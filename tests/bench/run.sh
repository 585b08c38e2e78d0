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
#	./imapwatch --workers 1 / --workers 2		(when it has --workers)
#	tshark -r FILE -q -z io,phs
#
# on three mixes a size: "imap" (gen_capture: cleartext, STARTTLS and
# IMAPS sessions fetching whole messages; bytes dominate), "span"
# (../shared/bench/gen_span_mix.py: a span port where IMAP is a few % of
# HTTPS, HTTP, SSH and DNS) and "clear" (gen_capture -m clear: cleartext
# IMAP checking for new mail, many short sessions of many lines; analysis
# dominates: where workers show what they gain).  A plot of throughput
# against workers a mix goes to build/bench/throughput.svg.
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
#	BENCH_MIXES="imap span clear"		which mixes
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
MIXES=${BENCH_MIXES:-"imap span clear"}
SPAN_GEN=${IW_SHARED:-$ROOT/../shared}/bench/gen_span_mix.py
# the span mix's frames average about 750 bytes (1.5 GB for 2 M packets)
SPAN_BYTES_PER_PACKET=750
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

for m in $MIXES; do
	case $m in imap|span|clear) ;; *) die "unknown mix in BENCH_MIXES: $m" ;; esac
done
if [[ " $MIXES " == *" span "* ]]; then
	[ -f "$SPAN_GEN" ] || die "the span mix needs $SPAN_GEN (../shared/bench)"
	command -v python3 >/dev/null || die "the span mix needs python3"
fi

mkdir -p "$DIR" "$DIR/logs" || die "cannot create $DIR"
case $DIR in "$ROOT"/*|/work/shared*) die "BENCH_DIR must be outside the repository and /work/shared" ;; esac

capture_of() {	# mix size -> file
	echo "$DIR/$1-mix-$2.pcap"
}

gen_version() {	# mix -> what made it
	case $1 in
	span) echo "gen_span_mix-$(md5sum <"$SPAN_GEN" | cut -c1-12)" ;;
	clear) echo "$GENV-clear" ;;
	*) echo "$GENV" ;;
	esac
}

kv() {	# "k1=v1 k2=v2" key -> value
	local w
	for w in $1; do
		case $w in "$2="*) echo "${w#*=}"; return 0 ;; esac
	done
	echo ""
}

# A capture is reused when its summary says the same generator, seed and
# target, and the file has the size the summary gives.
capture_ok() {	# mix file target
	local f=$2 t=$3 sum
	[ -f "$f" ] && [ -f "$f.summary" ] || return 1
	sum=$(cat "$f.summary")
	case $sum in "$(gen_version "$1") seed=$SEED target=$t "*) ;; *) return 1 ;; esac
	[ "$(kv "$sum" bytes)" = "$(stat -c %s "$f")" ]
}

need=0
for m in $MIXES; do
	for s in $SIZES; do
		t=$(bytes_of "$s")
		capture_ok $m "$(capture_of $m $s)" "$t" || need=$((need + t + t / 50))
	done
done
avail=$(( $(df -Pk "$DIR" | awk 'NR == 2 { print $4 }') * 1024 ))
if [ "$need" -gt 0 ]; then
	note "captures to generate: $((need / 1000000)) MB; free in $DIR: $((avail / 1000000)) MB"
	[ "$need" -lt "$avail" ] || die "not enough disk space in $DIR: need $((need / 1000000)) MB, have $((avail / 1000000)) MB (set BENCH_DIR or BENCH_SIZES)"
fi

# ---- generate ----
generate() {	# mix size target file -> the summary line on stdout
	local m=$1 s=$2 t=$3 f=$4 n
	case $m in
	imap)	"$OUT/gen_capture" -q -S "$SEED" -s "$s" -o "$f.tmp" ;;
	clear)	"$OUT/gen_capture" -q -m clear -S "$SEED" -s "$s" -o "$f.tmp" |
		    sed "s/^$GENV /$GENV-clear /" ;;
	span)
		n=$((t / SPAN_BYTES_PER_PACKET))
		python3 "$SPAN_GEN" "$f.tmp" "$n" "$SEED" >/dev/null || return 1
		echo "$(gen_version span) seed=$SEED target=$t bytes=$(stat -c %s "$f.tmp") packets=$n"
		;;
	esac
}

for m in $MIXES; do
	for s in $SIZES; do
		t=$(bytes_of "$s")
		f=$(capture_of $m $s)
		if capture_ok $m "$f" "$t"; then
			note "reusing $f"
			continue
		fi
		note "generating $f ..."
		rm -f "$f" "$f.summary"
		generate $m "$s" "$t" "$f" >"$f.summary.tmp" &&
		    [ -s "$f.summary.tmp" ] ||
		    { rm -f "$f.tmp" "$f.summary.tmp"; die "generating $f failed"; }
		mv "$f.tmp" "$f" && mv "$f.summary.tmp" "$f.summary" ||
		    die "cannot move $f.tmp"
	done
done

# ---- what runs ----
have_iw=0
iw_workers=0
if [ -x "$IW" ]; then
	have_iw=1
	iw_flows=0
	"$IW" --help 2>&1 | grep -q -- '--flows' && iw_flows=1
	"$IW" --help 2>&1 | grep -q -- '--workers' && iw_workers=1
	[ $iw_workers = 1 ] || note "imapwatch has no --workers: one column for it"
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
tools_for() {	# mix big -> program list
	local m=$1 big=$2 l="floor"
	if [ $have_iw = 1 ]; then
		if [ $iw_workers = 1 ]; then
			l="$l imapwatch_w1 imapwatch_w2"
		else
			l="$l imapwatch"
		fi
		[ $m = imap ] && [ $iw_flows = 1 ] && l="$l imapwatch_flows"
	fi
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
	imapwatch_w1)	CMD=("$IW" --workers 1 -r "$2" -o /dev/null) ;;
	imapwatch_w2)	CMD=("$IW" --workers 2 -r "$2" -o /dev/null) ;;
	imapwatch_flows) CMD=("$IW" -r "$2" -o /dev/null --flows) ;;
	tshark)		CMD=(tshark -r "$2" -q -z io,phs) ;;
	esac
}

tool_label() {
	case $1 in
	floor)		echo "floor (libpcap loop)" ;;
	imapwatch)	echo "imapwatch" ;;
	imapwatch_w1)	echo "imapwatch --workers 1" ;;
	imapwatch_w2)	echo "imapwatch --workers 2" ;;
	imapwatch_flows) echo "imapwatch --flows" ;;
	tshark)		echo "tshark -z io,phs" ;;
	esac
}

# the single-worker column, whichever the binary has
IW1=imapwatch
[ $iw_workers = 1 ] && IW1=imapwatch_w1

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { tr ' ' '\n' | grep . | sort -g | head -1; }
maximum() { tr ' ' '\n' | grep . | sort -g | tail -1; }

memavail=$(awk '/^MemAvailable:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo)

# ---- measure ----
for m in $MIXES; do
for s in $SIZES; do
	t=$(bytes_of "$s")
	f=$(capture_of $m $s)
	k="$m|$s"
	fsize=$(stat -c %s "$f")
	big=0
	[ "$t" -ge 1000000000 ] && big=1
	# Runs of a tenth of a second are noisy on a shared machine: nine of
	# each on the small captures, five on the large ones; tshark (seconds
	# to minutes) three times, once on the large ones, and after the
	# others, so its memory use does not sit between their runs.  A
	# round runs every program once, one after the other, so that the
	# columns are paired round by round.
	reps=${BENCH_REPS:-}
	[ -n "$reps" ] || { [ $big = 1 ] && reps=5 || reps=9; }
	treps=${BENCH_REPS:-}
	[ -n "$treps" ] || { [ $big = 1 ] && treps=1 || treps=3; }
	tools=$(tools_for $m $big)
	if [ $have_tshark = 1 ] && [ $big = 1 ] &&
	    [ "${BENCH_SKIP_TSHARK_LARGE:-0}" = 1 ]; then
		SKIPPED[$k]="tshark skipped on $s (BENCH_SKIP_TSHARK_LARGE=1)"
		note "${SKIPPED[$k]}"
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
			log=$DIR/logs/$m-$s-$tool-$r
			tool_cmd $tool "$f"
			note "$m $s run $r/$reps: ${CMD[*]}"
			"$OUT/runstat" "$log.stat" "${CMD[@]}" \
			    >"$log.out" 2>"$log.err"
			rc=$?
			st=$(cat "$log.stat" 2>/dev/null)
			if [ $rc != 0 ] || [ -z "$st" ]; then
				note "$tool failed on $m $s (exit $rc): see $log.err"
				tail -3 "$log.err" >&2
				FAILED[$k|$tool]=1
				status=1
				continue
			fi
			WALLS[$k|$tool]="${WALLS[$k|$tool]:-} $(kv "$st" wall)"
			CPU[$k|$tool|$(kv "$st" wall)]=$(awk -v u="$(kv "$st" user)" -v y="$(kv "$st" sys)" 'BEGIN { printf "%.3f", u + y }')
			RSS[$k|$tool]="${RSS[$k|$tool]:-} $(kv "$st" maxrss_kib)"
		done
	done
	done
done
done

# ---- event check: imapwatch counts what the generator wrote ----
declare -A CHECK
check_events() {	# mix size file
	local k="$1|$2" f=$3 ev=$DIR/events-$1-$2.ndjson
	rm -f "$ev"
	if ! "$IW" -r "$f" -o "$ev" 2>"$DIR/logs/$1-$2-events.err"; then
		CHECK[$k]="FAIL imapwatch exited non-zero (see $DIR/logs/$1-$2-events.err)"
		return
	fi
	if ! command -v python3 >/dev/null 2>&1; then
		CHECK[$k]="skipped (no python3)"
		return
	fi
	CHECK[$k]=$(python3 tests/bench/check_events.py "$ev" "$f.summary")
}
if [ $have_iw = 1 ]; then
	for m in $MIXES; do
		[ $m = span ] && continue	# its generator counts no sessions
		for s in $SIZES; do
			note "checking imapwatch's events on $m $s"
			check_events $m "$s" "$(capture_of $m $s)"
		done
	done
fi

# ---- report ----
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "") print "-"; else printf f, v }'; }
verdict() { [ "$1" = 1 ] && echo PASS || echo FAIL; }

# the median over rounds of (time of A / time of B), paired round by round
paired_ratio() {	# key toolA toolB
	local a b
	a=${WALLS[$1|$2]:-}
	b=${WALLS[$1|$3]:-}
	[ -n "$a" ] && [ -n "$b" ] || { echo ""; return; }
	paste <(echo $a | tr ' ' '\n') <(echo $b | tr ' ' '\n') |
	    awk '$1 > 0 && $2 > 0 { print $1 / $2 }' | median
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
memtotal=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
git diff --quiet HEAD 2>/dev/null || commit="$commit+changes"
iwv=$([ $have_iw = 1 ] && "$IW" --version 2>&1 | head -1 || echo "imapwatch not built")
tsv=$([ $have_tshark = 1 ] && tshark --version 2>/dev/null | head -1 | sed 's/\.$//' || echo "tshark not run")
PLOT=$OUT/throughput.tsv
printf 'mix\tsize\tprogram\tworkers\tmbps\n' >"$PLOT"

{
echo "## Benchmark ($(date -u +%Y-%m-%d))"
echo
echo "Machine: $cpu, $(nproc) cores, $memtotal; $(uname -sr). Commit $commit."
echo "$iwv; $tsv."
echo "Captures read from the page cache; MB = 10^6 bytes of capture file."
echo "MB/s, packets/s and the ratio to the floor come from each program's"
echo "best run (other load only adds time; the median is shown too); CPU is"
echo "user + system time of the best run; peak RSS is the largest of the"
echo "runs (getrusage)."
echo
for m in $MIXES; do
	for s in $SIZES; do
		f=$(capture_of $m $s)
		sum=$(cat "$f.summary")
		case $m in
		span) echo "- span $s: $(stat -c %s "$f") bytes, $(kv "$sum" packets) packets (\`gen_span_mix.py\`, seed $SEED: HTTPS, HTTP, SSH, DNS, about 2 % IMAP)" ;;
		clear) echo "- clear $s: $(stat -c %s "$f") bytes, $(kv "$sum" packets) packets, $(kv "$sum" sessions) cleartext IMAP sessions checking for new mail (\`gen_capture -m clear\`, seed $SEED)" ;;
		imap) echo "- imap $s: $(stat -c %s "$f") bytes, $(kv "$sum" packets) packets, $(kv "$sum" sessions) sessions ($(kv "$sum" imap_cleartext) cleartext, $(kv "$sum" imap_starttls) STARTTLS, $(kv "$sum" imap_implicit_tls) IMAPS of which $(kv "$sum" tls13) TLS 1.3), $(kv "$sum" messages) messages fetched (\`gen_capture\`, $GENV, seed $SEED)" ;;
		esac
	done
done
echo
echo "| Mix | Capture | Program | Runs | Best (s) | Median (s) | CPU (s) | MB/s | kpkt/s | Peak RSS (MiB) | Throughput vs floor |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
declare -A MBS RSSM
for m in $MIXES; do
for s in $SIZES; do
	k="$m|$s"
	f=$(capture_of $m $s)
	fsize=$(stat -c %s "$f")
	pk=$(kv "$(cat "$f.summary")" packets)
	fl=$(echo "${WALLS[$k|floor]:-}" | minimum)
	for tool in floor imapwatch imapwatch_w1 imapwatch_w2 imapwatch_flows tshark; do
		w=$(echo "${WALLS[$k|$tool]:-}" | median)
		if [ -z "$w" ]; then
			[ -n "${FAILED[$k|$tool]:-}" ] &&
			    echo "| $m | $s | $(tool_label $tool) | - | failed | | | | | | |"
			continue
		fi
		n=$(echo "${WALLS[$k|$tool]}" | wc -w)
		b=$(echo "${WALLS[$k|$tool]}" | minimum)
		rk=$(echo "${RSS[$k|$tool]}" | maximum)
		mbs=$(awk -v a="$fsize" -v w="$b" 'BEGIN { printf "%.1f", a / 1e6 / w }')
		kps=$(awk -v a="$pk" -v w="$b" 'BEGIN { printf "%.0f", a / 1e3 / w }')
		rm=$(awk -v k="$rk" 'BEGIN { printf "%.1f", k / 1024 }')
		rel=$(awk -v w="$b" -v f="$fl" 'BEGIN { if (f == "") print "-"; else if (100 * f / w < 10) printf "%.1f %%", 100 * f / w; else printf "%.0f %%", 100 * f / w }')
		MBS[$k|$tool]=$mbs
		RSSM[$k|$tool]=$rm
		case $tool in
		imapwatch|imapwatch_w1) printf '%s\t%s\timapwatch\t1\t%s\n' $m $s $mbs >>"$PLOT" ;;
		imapwatch_w2) printf '%s\t%s\timapwatch\t2\t%s\n' $m $s $mbs >>"$PLOT" ;;
		floor|tshark) printf '%s\t%s\t%s\t0\t%s\n' $m $s $tool $mbs >>"$PLOT" ;;
		esac
		echo "| $m | $s | $(tool_label $tool) | $n | $(fmt "$b" %.3f) | $(fmt "$w" %.3f) | ${CPU[$k|$tool|$b]:--} | $mbs | $kps | $rm | $rel |"
	done
	[ -n "${SKIPPED[$k]:-}" ] && echo "| $m | $s | tshark -z io,phs | - | skipped | | | | | | |"
done
done
echo
echo "Targets:"
echo
for m in $MIXES; do
	first=""
	last=""
	for s in $SIZES; do
		k="$m|$s"
		[ -n "$first" ] || first=$s
		last=$s
		fl=${MBS[$k|floor]:-}
		iw=${MBS[$k|$IW1]:-}
		if [ $m = imap ] && [ -n "$fl" ] && [ -n "$iw" ]; then
			pct=$(awk -v a="$iw" -v b="$fl" 'BEGIN { printf "%.0f", 100 * a / b }')
			ok=$(awk -v a="$iw" -v b="$fl" 'BEGIN { print (a >= 0.6 * b) ? 1 : 0 }')
			echo "- imap $s: one worker's throughput >= 60 % of the floor (issue 4): $pct % $(verdict $ok)"
			[ $ok = 1 ] || TFAIL=1
		fi
		if [ $m = imap ] && [ -n "${WALLS[$k|imapwatch_w2]:-}" ]; then
			r=$(paired_ratio "$k" imapwatch_w2 floor)
			ok=$(awk -v r="$r" 'BEGIN { print (r != "" && r < 1.0) ? 1 : 0 }')
			echo "- imap $s: --workers 2 finishes before the floor (median paired time ratio < 1.0, issue 10): $(fmt "$r" %.2f) $(verdict $ok)"
			[ $ok = 1 ] || TFAIL=1
		fi
		if [ $m = clear ] && [ -n "${WALLS[$k|imapwatch_w2]:-}" ]; then
			r=$(paired_ratio "$k" imapwatch_w1 imapwatch_w2)
			ok=$(awk -v r="$r" 'BEGIN { print (r != "" && r >= 1.6) ? 1 : 0 }')
			echo "- clear $s: --workers 2 at least 1.6x as fast as --workers 1 (median of paired runs, issue 10): $(fmt "$r" %.2f)x $(verdict $ok)"
			[ $ok = 1 ] || TFAIL=1
		fi
		for tool in $IW1 imapwatch_w2; do
			r=${RSSM[$k|$tool]:-}
			[ -n "$r" ] || continue
			nw=1
			[ $tool = imapwatch_w2 ] && nw=2
			ok=$(awk -v r="$r" -v n=$nw 'BEGIN { print (r <= 64 * n) ? 1 : 0 }')
			echo "- $m $s: $(tool_label $tool) peak RSS <= 64 MiB a worker: $r MiB $(verdict $ok)"
			[ $ok = 1 ] || TFAIL=1
		done
		if [ -n "${CHECK[$k]:-}" ]; then
			echo "- $m $s: imapwatch's stats and alerts count the sessions written: ${CHECK[$k]}"
			case ${CHECK[$k]} in FAIL*) TFAIL=1 ;; esac
		fi
	done
	for tool in $IW1 imapwatch_w2; do
		a=${RSSM[$m|$first|$tool]:-}
		b=${RSSM[$m|$last|$tool]:-}
		[ "$first" != "$last" ] && [ -n "$a" ] && [ -n "$b" ] || continue
		# Not growing: within 10 % or 2 MiB of the small capture's peak.
		ok=$(awk -v a="$a" -v b="$b" 'BEGIN { print (b <= a * 1.10 || b <= a + 2) ? 1 : 0 }')
		echo "- $m: $(tool_label $tool) peak RSS does not grow from $first to $last (within 10 % or 2 MiB): $a -> $b MiB $(verdict $ok)"
		[ $ok = 1 ] || TFAIL=1
	done
done
} >"$OUT/results.md.tmp"
mv "$OUT/results.md.tmp" "$OUT/results.md"
python3 tests/bench/plot.py "$PLOT" "$OUT/throughput.svg" ||
    note "no plot (tests/bench/plot.py failed)"

echo
cat "$OUT/results.md"
echo
echo "(written to build/bench/results.md and build/bench/throughput.svg; captures and logs in $DIR)"
if [ "${TFAIL:-0}" = 1 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then
	status=1
fi
exit $status
