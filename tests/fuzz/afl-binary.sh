#!/bin/bash
# SPDX-License-Identifier: ISC
# AFL++ on the whole program: imapwatch itself, built with afl-clang-fast,
# reading each input as a capture file (-r @@), every option of a busy
# sensor on (--flows --all-tls --summary --write-alerted).  Seeds: our own
# small captures (pcaps/ under 3 KB).  Crashes and hangs are copied to
# tests/fuzz/crashes/binary/.
#
#   AFL_SECONDS=3600 nice -n 19 tests/fuzz/afl-binary.sh
set -u
cd "$(dirname "$0")/../.." || exit 2
SECS=${AFL_SECONDS:-3600}
B=build-afl
OUT=build-fuzz/afl-bin
command -v afl-fuzz >/dev/null || { echo "afl++ is not installed (apt-get install afl++)" >&2; exit 2; }
AFL_QUIET=1 make -s B=$B CC=afl-clang-fast OPT="-O2 -g" $B/imapwatch || exit 2
mkdir -p $OUT/in tests/fuzz/crashes/binary
find pcaps -name '*.pcap*' -size -3k | while read -r f; do
	cp "$f" "$OUT/in/$(echo "$f" | tr / _)"
done
export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
resume=()
[ -d $OUT/out/default/queue ] && resume=(-i -) || resume=(-i $OUT/in)
timeout -k 10 $((SECS + 60)) afl-fuzz -V "$SECS" "${resume[@]}" -o $OUT/out \
    -m none -t 2000 -- $B/imapwatch -r @@ -o /dev/null --flows --all-tls \
    --summary=/dev/null --write-alerted /dev/null >$OUT/afl.log 2>&1
rc=$?
for f in $OUT/out/default/crashes/id:* $OUT/out/default/hangs/id:*; do
	[ -e "$f" ] || continue
	cp "$f" "tests/fuzz/crashes/binary/afl-$(basename "$(dirname "$f")")-$(md5sum <"$f" | cut -c1-12)"
done
grep -E '^(start_time|last_update|run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg|edges_found)' \
    $OUT/out/default/fuzzer_stats
exit $rc
