#!/bin/bash
# SPDX-License-Identifier: ISC
# Source coverage of each harness's corpus (build-fuzz/corpus/<harness>,
# plus the seeds and regressions): builds the library and the replay
# drivers with clang's source-based coverage into build-fuzz/cov/, replays
# every input and prints llvm-cov's line and region coverage of the files
# the harness is about, and the total.
#
#   tests/fuzz/coverage.sh [HARNESS...]
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
BF=$ROOT/build-fuzz
COV=$BF/cov
HARNESSES=${*:-packet pcapng imap tls x509 sasl}
LLVM_PROFDATA=$(command -v llvm-profdata || command -v llvm-profdata-14)
LLVM_COV=$(command -v llvm-cov || command -v llvm-cov-14)
[ -n "$LLVM_PROFDATA" ] && [ -n "$LLVM_COV" ] || { echo "llvm-cov not found"; exit 1; }
FL="-fprofile-instr-generate -fcoverage-mapping"
LIBS=$(make -s --no-print-directory --eval \
    'fuzz-print-ldlibs: ; @echo $(LDLIBS)' fuzz-print-ldlibs 2>/dev/null)
make -s --no-print-directory B="$COV" CC=clang OPT="-O1 -g" SAN="$FL" \
    WARN="-Wall -Wno-unused-parameter" "$COV/libimapwatch.a" >/dev/null || exit 1
INCS=$(make -s --no-print-directory \
    --eval 'fuzz-print-incdirs: ; @echo $(HDR_DIRS)' fuzz-print-incdirs)
CF="-O1 -g -std=gnu11 -D_GNU_SOURCE $(for d in $INCS; do printf -- '-I%s ' "$d"; done)-Itests/fuzz \
    $(pkg-config --cflags json-c) -DFZ_SRCDIR=\"$ROOT\" $FL"

# the files each harness is about (the total line covers everything)
files_of() {
	case $1 in
	packet) echo analyzer/decode/decode.c analyzer/decode/ipfrag.c \
	    analyzer/flow/flow.c analyzer/flow/reassembly.c \
	    analyzer/session/session.c analyzer/run/engine.c ;;
	pcapng) echo analyzer/capture/pcapng.c ;;
	imap) echo dissectors/imap.c dissectors/imap_parse.c dissectors/imap_proto.c \
	    dissectors/imap_lex.c dissectors/imap_find.c dissectors/imap_sasl.c \
	    dissectors/imap_compress.c dissectors/imap_report.c \
	    analyzer/session/session.c ;;
	tls) echo dissectors/tls.c dissectors/tls_hello.c dissectors/tls_report.c \
	    dissectors/fingerprint.c dissectors/x509.c ;;
	x509) echo dissectors/x509.c ;;
	tls_keylog) echo dissectors/tls.c dissectors/tls_decrypt.c \
	    dissectors/tls_report.c dissectors/x509.c dissectors/imap.c \
	    dissectors/imap_proto.c dissectors/imap_compress.c ;;
	sasl) echo dissectors/imap_sasl.c ;;
	esac
}
for h in $HARNESSES; do
	src=tests/fuzz/fuzz_$h.c
	[ "$h" = imap ] && src=tests/fuzz/fuzz_session.c
	[ "$h" = tls ] && src="-DFZ_TLS tests/fuzz/fuzz_session.c"
	clang $CF -o "$COV/cov_$h" $src tests/fuzz/common.c tests/fuzz/replay.c \
	    "$COV/libimapwatch.a" $LIBS || exit 1
	rm -f "$COV/$h".profraw
	dirs=()
	for d in "$BF/corpus/$h" "tests/fuzz/seeds/$h" "tests/fuzz/regress/$h"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	LLVM_PROFILE_FILE="$COV/$h.profraw" "$COV/cov_$h" "${dirs[@]}" >/dev/null 2>&1
	"$LLVM_PROFDATA" merge -sparse -o "$COV/$h.profdata" "$COV/$h.profraw"
	echo "== $h ($(find "${dirs[@]}" -type f | wc -l) inputs)"
	"$LLVM_COV" report "$COV/cov_$h" -instr-profile="$COV/$h.profdata" \
	    $(files_of "$h") 2>/dev/null | awk '/\.c / || /^TOTAL/ {
	    n = split($1, a, "/"); printf "  %-16s lines %5s of %-5s %7s   branches %7s\n", a[n], $8 - $9, $8, $10, $13 }'
	"$LLVM_COV" report "$COV/cov_$h" -instr-profile="$COV/$h.profdata" \
	    2>/dev/null | awk '/^TOTAL/ { printf "  (all code linked: lines %s)\n", $10 }'
done
