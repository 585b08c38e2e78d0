#!/bin/bash
# SPDX-License-Identifier: ISC
# Replays the fuzzers' saved inputs through the build under test ($IW_BUILD:
# the normal build, then the ASan+UBSan one): every regression input
# (tests/fuzz/regress/<harness>/), every crash not yet turned into one
# (tests/fuzz/crashes/<harness>/), the curated seeds (tests/fuzz/seeds/)
# and a small sample of the generated seed corpus (build-fuzz/seeds/, when
# make fuzz has made it).  Each harness is built with its plain replay
# driver (tests/fuzz/replay.c) against $IW_BUILD/libimapwatch.a.
#
# One line per harness and kind of input; a crash, sanitizer report, or
# inputs of a kind taking longer than IW_FUZZ_REPLAY_TIMEOUT (default 10 s)
# together, fails it.
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib/iwtest.sh
ROOT=$PWD
B=${IW_BUILD:-$ROOT/build}
LIB=$B/libimapwatch.a
OUT=$B/fuzz-replay
SAMPLE=${IW_FUZZ_SAMPLE:-6}	# generated seeds a harness
TMO=${IW_FUZZ_REPLAY_TIMEOUT:-10}
HARNESSES="packet pcapng imap tls x509 sasl keylog tls_decrypt tls_keylog"

if [ ! -f "$LIB" ]; then
	ok 1 "fuzz replay: $LIB is built"
	finish
fi
mkdir -p "$OUT"
# the library's own sanitizers, if any, for the driver too
SAN=""
if nm "$LIB" 2>/dev/null | grep -q ' U __asan_report'; then
	SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
fi
CC=${CC:-cc}
# the header folders (include/ and one a stage), as the Makefile lists them
INCS=$(make -s --no-print-directory --eval \
    'fuzz-print-incdirs: ; @echo $(HDR_DIRS)' fuzz-print-incdirs 2>/dev/null)
CF="-O1 -g -std=gnu11 -D_GNU_SOURCE $(for d in $INCS; do printf -- '-I%s ' "$d"; done)-Itests/fuzz \
    $(pkg-config --cflags json-c) -DFZ_SRCDIR=\"$ROOT\""
# the libraries the Makefile links with, without its sanitizer flags
LIBS=$(make -s --no-print-directory --eval \
    'fuzz-print-ldlibs: ; @echo $(LDLIBS)' fuzz-print-ldlibs SAN= 2>/dev/null) ||
    LIBS=$(pkg-config --libs libpcap openssl json-c zlib)

src_of() {
	case $1 in
	imap) echo "tests/fuzz/fuzz_session.c" ;;
	tls) echo "-DFZ_TLS tests/fuzz/fuzz_session.c" ;;
	*) echo "tests/fuzz/fuzz_$1.c" ;;
	esac
}

failed() {	# log rc: did the replay fail?
	[ "$2" -ne 0 ] || grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1"
}

# inputs of one kind in one process; if that fails, one process each, so
# the failure names its input
replay() {	# harness kind files...
	local h=$1 kind=$2 f rc n=$# bad=0 log
	shift 2
	n=$#
	[ "$n" -gt 0 ] || return 0
	log=$(mktemp /tmp/iw-fuzz-replay.XXXXXX)
	timeout "$TMO" "$OUT/replay_$h" "$@" >"$log" 2>&1
	rc=$?
	if failed "$log" $rc; then
		for f in "$@"; do
			timeout "$TMO" "$OUT/replay_$h" "$f" >"$log" 2>&1
			rc=$?
			failed "$log" $rc || continue
			bad=$((bad + 1))
			[ $rc -eq 124 ] && echo "# $f: timed out after ${TMO}s"
			echo "# $f: exit $rc"
			grep -E 'ERROR|runtime error|SUMMARY|#[0-9] ' "$log" | head -12 | sed 's/^/#   /'
		done
		[ $bad -eq 0 ] && bad=1	# fails together only: still a failure
	fi
	rm -f "$log"
	if [ $bad -eq 0 ]; then
		ok 0 "fuzz replay $h: $n $kind input(s)"
	else
		ok 1 "fuzz replay $h: $bad of $n $kind input(s) fail"
	fi
}

for h in $HARNESSES; do
	bin=$OUT/replay_$h
	# rebuilt when the library or a harness source is newer
	if [ ! -x "$bin" ] || [ -n "$(find "$LIB" tests/fuzz -newer "$bin" \
	    \( -name '*.a' -o -name '*.c' -o -name '*.h' \) 2>/dev/null | head -1)" ]; then
		if ! $CC $CF $SAN -o "$bin" $(src_of "$h") tests/fuzz/common.c \
		    tests/fuzz/replay.c "$LIB" $LIBS 2>"$OUT/build_$h.log"; then
			ok 1 "fuzz replay $h: driver does not build"
			sed 's/^/#   /' "$OUT/build_$h.log" | head -20
			continue
		fi
	fi
	shopt -s nullglob
	regress=(tests/fuzz/regress/"$h"/*)
	crashes=(tests/fuzz/crashes/"$h"/*)
	seeds=(tests/fuzz/seeds/"$h"/*)
	gen=(build-fuzz/seeds/"$h"/*)
	shopt -u nullglob
	replay "$h" regression "${regress[@]}"
	replay "$h" saved-crash "${crashes[@]}"
	replay "$h" curated-seed "${seeds[@]}"
	# a fixed sample: every k-th generated seed
	if [ ${#gen[@]} -gt 0 ]; then
		step=$(( (${#gen[@]} + SAMPLE - 1) / SAMPLE ))
		sample=()
		for ((i = 0; i < ${#gen[@]}; i += step)); do
			sample+=("${gen[$i]}")
		done
		replay "$h" generated-seed "${sample[@]}"
	fi
done
finish
