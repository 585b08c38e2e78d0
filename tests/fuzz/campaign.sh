#!/bin/bash
# SPDX-License-Identifier: ISC
# The long fuzz campaign: every libFuzzer harness in turn, a slice at a
# time, until each has run TARGET executions in total (summed over the
# slices and over earlier campaigns: build-fuzz/campaign.tsv keeps one line
# per slice, and the corpora in build-fuzz/corpus/ grow from one slice to
# the next).  Then, if FUZZ_AFL_SECONDS is set, AFL++ on the whole-binary
# harness (packet) for that long.
#
#   nice -n 19 tests/fuzz/campaign.sh		(what tests/fuzz/README.md quotes)
#   TARGET=10000000 SLICE=600 tests/fuzz/campaign.sh packet imap
#
# A slice's timeout is 10 s, not run.sh's 1 s: on a shared machine a
# sanitised input can stall for more than a second without being slow
# (every input the 1 s limit flagged in the first campaign replayed in
# 0.1-0.2 s); a real hang still stops the slice and is kept in
# tests/fuzz/crashes/.
set -u
cd "$(dirname "$0")/../.." || exit 2
ALL="packet pcapng imap tls x509 sasl keylog tls_decrypt tls_keylog"
HARNESSES=${*:-$ALL}
TARGET=${TARGET:-10000000}
SLICE=${SLICE:-600}
TALLY=build-fuzz/campaign.tsv
mkdir -p build-fuzz
[ -f $TALLY ] || printf 'date\tharness\texecs\texec_per_s\tcov\tft\tcorpus\trc\n' >$TALLY

total() {
	awk -F'\t' -v h="$1" '$2 == h { n += $3 } END { print n + 0 }' $TALLY
}

FUZZ_BUILD_ONLY=1 tests/fuzz/run.sh $HARNESSES >/dev/null 2>&1 ||
    { echo "campaign: build failed (build-fuzz/logs/)" >&2; exit 2; }
while :; do
	left=0
	for h in $HARNESSES; do
		[ "$(total $h)" -ge "$TARGET" ] && continue
		left=1
		FUZZ_SECONDS=$SLICE FUZZ_FLAGS="-timeout=10" \
		    tests/fuzz/run.sh $h >/dev/null 2>&1
		rc=$?
		log=build-fuzz/logs/fuzz_$h.log
		execs=$(awk '/stat::number_of_executed_units/ { print $2 }' $log)
		rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' $log)
		last=$(grep -E '^#[0-9]+' $log | tail -1)
		cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
		ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
		corp=$(ls build-fuzz/corpus/$h | wc -l)
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" \
		    $h "${execs:-0}" "${rate:-0}" "${cov:-?}" "${ft:-?}" \
		    $corp $rc >>$TALLY
		echo "$h: $(total $h) of $TARGET (rc $rc)"
	done
	[ $left = 0 ] && break
done
if [ -n "${FUZZ_AFL_SECONDS:-}" ]; then
	FUZZ_AFL=1 FUZZ_SECONDS=1 tests/fuzz/run.sh packet
fi
