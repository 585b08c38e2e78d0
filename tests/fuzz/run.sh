#!/bin/bash
# SPDX-License-Identifier: ISC
# Builds the fuzz harnesses and fuzzes each for a while.
#
#   tests/fuzz/run.sh [HARNESS...]	(make fuzz: all of them)
#
# Harnesses (tests/fuzz/fuzz_*.c): packet pcapng imap tls x509 sasl keylog
# tls_decrypt tls_keylog.
# Environment:
#   FUZZ_SECONDS=60	libFuzzer time per harness
#   FUZZ_JOBS=1		harnesses fuzzed at the same time (cores are shared)
#   FUZZ_AFL=1		also AFL++, FUZZ_AFL_SECONDS (default FUZZ_SECONDS)
#			per harness
#   FUZZ_FLAGS=...	more libFuzzer options (-use_value_profile=1 ...)
#   FUZZ_BUILD_ONLY=1	build and make the seeds, do not fuzz
#   FUZZ_SRC=DIR	build the library from another tree (e.g. a
#			`git worktree` of a commit) instead of this one
#   FUZZ_RSS_MB=320	libFuzzer -rss_limit_mb (ASan's shadow included);
#   FUZZ_MALLOC_MB=256	-malloc_limit_mb: one allocation, or the growth a
#			single input causes, above this is a failure
#
# Everything built or grown goes to build-fuzz/ (libraries per compiler,
# per source tree obj-*/, bin/, seeds/, corpus/<harness> that grows run
# after run, logs/).  Crashes,
# leaks, timeouts (> 1 s) and out-of-memory inputs are written to
# tests/fuzz/crashes/<harness>/; once understood and fixed, keep the input
# as tests/fuzz/regress/<harness>/NAME, which tests/t_fuzz_regress.sh
# replays in make test.
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
ALL="packet pcapng imap tls x509 sasl keylog tls_decrypt tls_keylog"
HARNESSES=${*:-$ALL}
SECONDS_EACH=${FUZZ_SECONDS:-60}
AFL_SECONDS=${FUZZ_AFL_SECONDS:-$SECONDS_EACH}
JOBS=${FUZZ_JOBS:-1}
RSS_MB=${FUZZ_RSS_MB:-320}
MALLOC_MB=${FUZZ_MALLOC_MB:-256}
BF=$ROOT/build-fuzz
SRC=$(cd "${FUZZ_SRC:-$ROOT}" && pwd) || exit 2
OBJ=$BF/obj-$(basename "$SRC")	# objects per source tree
# the libraries the Makefile links with (they change as the project grows)
LIBS=$(make -s --no-print-directory -C "${FUZZ_SRC:-$ROOT}" \
    --eval 'fuzz-print-ldlibs: ; @echo $(LDLIBS)' fuzz-print-ldlibs 2>/dev/null) ||
    LIBS=$(pkg-config --libs libpcap openssl json-c zlib)
SANF="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# the header folders (include/ and one a stage), as the Makefile lists them
INCS=$(make -s --no-print-directory -C "$SRC" \
    --eval 'fuzz-print-incdirs: ; @echo $(HDR_DIRS)' fuzz-print-incdirs \
    2>/dev/null) || { echo "fuzz: cannot ask the Makefile for its header folders" >&2; exit 1; }
[ -n "$INCS" ] || INCS="include dissectors"	# a tree from before the stages
CF="-O1 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
    $(for d in $INCS; do printf -- '-I%s/%s ' "$SRC" "$d"; done)-Itests/fuzz \
    $(pkg-config --cflags json-c) -DFZ_SRCDIR=\"$ROOT\""
mkdir -p "$BF/bin" "$BF/logs" "$BF/corpus"

die() { echo "fuzz: $*" >&2; exit 1; }

# harness -> source file and extra flags; dictionary; max input length
src_of() {
	case $1 in
	imap) echo "tests/fuzz/fuzz_session.c" ;;
	tls) echo "-DFZ_TLS tests/fuzz/fuzz_session.c" ;;
	*) echo "tests/fuzz/fuzz_$1.c" ;;
	esac
}
max_len() {
	case $1 in
	packet|pcapng) echo 32768 ;;
	imap|tls) echo 24576 ;;
	x509) echo 8192 ;;
	sasl) echo 2048 ;;
	keylog) echo 16384 ;;
	tls_decrypt|tls_keylog) echo 32768 ;;
	esac
}

# ---- build ----
lib() {	# dir cc san (warnings are the normal build's business: no -Werror)
	make -s --no-print-directory -C "$SRC" B="$1" CC="$2" OPT="-O1 -g" \
	    SAN="$3" WARN="-Wall -Wno-unused-parameter" \
	    "$1/libimapwatch.a" >"$BF/logs/build-$(basename "$1").log" 2>&1 ||
	    { tail -20 "$BF/logs/build-$(basename "$1").log"; die "library build failed ($1)"; }
}
echo "== building (build-fuzz/)"
command -v clang >/dev/null || die "clang is not installed (make fuzz installs it)"
lib "$OBJ/plain" "${CC:-cc}" ""
lib "$OBJ/libfuzzer" clang "-fsanitize=fuzzer-no-link $SANF"
# seedgen: the engine with a recording dissector, plain build
${CC:-cc} $CF -o "$BF/seedgen" tests/fuzz/seedgen.c "$OBJ/plain/libimapwatch.a" \
    $LIBS || die "seedgen build failed"
for h in $ALL; do
	clang $CF -fsanitize=fuzzer $SANF -o "$BF/bin/fuzz_$h" $(src_of "$h") \
	    tests/fuzz/common.c "$OBJ/libfuzzer/libimapwatch.a" $LIBS ||
	    die "fuzz_$h build failed"
done
if [ "${FUZZ_AFL:-0}" = 1 ]; then
	command -v afl-clang-fast >/dev/null || die "afl++ is not installed"
	export AFL_QUIET=1
	lib "$OBJ/afl" afl-clang-fast "$SANF"
	for h in $ALL; do
		afl-clang-fast $CF -fsanitize=fuzzer $SANF -o "$BF/bin/afl_$h" \
		    $(src_of "$h") tests/fuzz/common.c "$OBJ/afl/libimapwatch.a" \
		    $LIBS 2>"$BF/logs/build-afl_$h.log" || die "afl_$h build failed"
	done
fi
echo "== seeds (build-fuzz/seeds/)"
tests/fuzz/make-seeds.sh || die "seed generation failed"
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

# ---- libFuzzer ----
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1:quarantine_size_mb=16}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fuzz_one() {	# harness
	local h=$1 dict=$1
	case $h in imap|tls|packet|pcapng|x509|sasl|keylog|tls_decrypt|tls_keylog) ;;
	*) die "no harness $h" ;; esac
	mkdir -p "$BF/corpus/$h" "tests/fuzz/crashes/$h" "$BF/seeds/$h"
	local dirs=("$BF/corpus/$h" "$BF/seeds/$h")
	[ -d "tests/fuzz/seeds/$h" ] && dirs+=("tests/fuzz/seeds/$h")
	[ -d "tests/fuzz/regress/$h" ] && dirs+=("tests/fuzz/regress/$h")
	timeout -k 10 $((SECONDS_EACH + 300)) "$BF/bin/fuzz_$h" \
	    -max_total_time="$SECONDS_EACH" -timeout=1 \
	    -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$MALLOC_MB" \
	    -max_len="$(max_len "$h")" -dict="tests/fuzz/dict/$dict.dict" \
	    -artifact_prefix="tests/fuzz/crashes/$h/" -print_final_stats=1 \
	    ${FUZZ_FLAGS:-} "${dirs[@]}" >"$BF/logs/fuzz_$h.log" 2>&1
	echo $? >"$BF/logs/fuzz_$h.rc"
}
# runs FUNC for every harness, $JOBS at a time
each_harness() {	# FUNC
	local h running=0
	for h in $HARNESSES; do
		"$1" "$h" &
		running=$((running + 1))
		if [ $running -ge "$JOBS" ]; then
			wait -n
			running=$((running - 1))
		fi
	done
	wait
}
echo "== libFuzzer, ${SECONDS_EACH}s each, $JOBS at a time"
each_harness fuzz_one

# ---- AFL++ ----
afl_one() {	# harness
	local h=$1 in=$BF/afl-in/$h out=$BF/afl-out/$h f
	rm -rf "$in"
	mkdir -p "$in" "$out" "tests/fuzz/crashes/$h"
	# the libFuzzer corpus (already minimal), or the seeds
	for f in "$BF/corpus/$h"/* "$BF/seeds/$h"/*; do
		[ -f "$f" ] || continue
		[ "$(stat -c %s "$f")" -le "$(max_len "$h")" ] || continue
		cp "$f" "$in/" 2>/dev/null
		[ "$(ls "$in" | wc -l)" -ge 150 ] && break
	done
	[ -n "$(ls "$in")" ] || printf '\0\0\0' >"$in/empty"
	AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
	AFL_NO_AFFINITY=1 AFL_SKIP_CRASHES=1 \
	ASAN_OPTIONS=abort_on_error=1:symbolize=0:detect_leaks=0 \
	    timeout -k 10 $((AFL_SECONDS + 120)) afl-fuzz -V "$AFL_SECONDS" \
	    -i "$in" -o "$out" -m none -t 1000 -x "tests/fuzz/dict/$h.dict" \
	    -- "$BF/bin/afl_$h" >"$BF/logs/afl_$h.log" 2>&1
	for f in "$out"/default/crashes/id:* "$out"/default/hangs/id:*; do
		[ -f "$f" ] || continue
		cp "$f" "tests/fuzz/crashes/$h/afl-$(basename "$(dirname "$f")")-$(md5sum <"$f" | cut -c1-12)"
	done
}
if [ "${FUZZ_AFL:-0}" = 1 ]; then
	echo "== AFL++, ${AFL_SECONDS}s each, $JOBS at a time"
	each_harness afl_one
fi

# ---- summary ----
echo "== summary"
printf '%-7s %12s %8s %8s %8s %7s  %s\n' harness execs exec/s cov ft corpus crashes
bad=0
for h in $HARNESSES; do
	log=$BF/logs/fuzz_$h.log
	execs=$(awk '/^stat::number_of_executed_units:/ { v = $2 } END { print v }' "$log")
	speed=$(awk '/^stat::average_exec_per_sec:/ { v = $2 } END { print v }' "$log")
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	ncorp=$(ls "$BF/corpus/$h" | wc -l)
	crashes=$(grep -cE '^(==[0-9]+==ERROR|SUMMARY: |.*runtime error:|ALARM: working on the last Unit for|==[0-9]+== ERROR: libFuzzer)' "$log")
	printf '%-7s %12s %8s %8s %8s %7s  %s\n' "$h" "${execs:-?}" "${speed:-?}" \
	    "${cov:-?}" "${ft:-?}" "$ncorp" \
	    "$([ "$crashes" -gt 0 ] && echo "FOUND (see $log)" || echo none)"
	[ "$crashes" -gt 0 ] && bad=1
	if [ "${FUZZ_AFL:-0}" = 1 ] && [ -f "$BF/afl-out/$h/default/fuzzer_stats" ]; then
		awk -F: '/^(execs_done|saved_crashes|saved_hangs|bitmap_cvg|corpus_count)/ {
		    gsub(/ /, "", $1); gsub(/ /, "", $2); printf "  afl %s=%s", $1, $2 }
		    END { print "" }' "$BF/afl-out/$h/default/fuzzer_stats"
		n=$(ls "$BF/afl-out/$h/default/crashes" "$BF/afl-out/$h/default/hangs" 2>/dev/null | grep -c '^id:')
		[ "$n" -gt 0 ] && bad=1
	fi
done
ls tests/fuzz/crashes/*/* >/dev/null 2>&1 &&
    echo "inputs kept in tests/fuzz/crashes/: $(ls tests/fuzz/crashes/*/* | wc -l)"
exit $bad
