#!/bin/bash
# Runs the whole suite once per build directory given (e.g. build
# build-asan) and ends with one line: "N passed, N failed, N skipped".
#
# A test is a unit binary ($B/tests/test_*) or a script tests/t_*.sh /
# tests/t_*.py.  Each prints lines "ok - what", "not ok - what" or
# "skip - what (why)".  A test that exits non-zero without a "not ok" line,
# or whose output shows a sanitizer report, counts one failure more.
#
# Every test runs with IW_EVENT_LOG set to a directory of the pass: each
# process linked with imapwatch's library appends every event it writes
# there (analyzer/event_log.c), and at the end of the pass all of them are
# validated against schema/events.schema.json (--format ecs ones against
# schema/ecs-events.schema.json), one line per event type.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
export IW_SHARED=${IW_SHARED:-$(cd "$ROOT/../shared" 2>/dev/null && pwd)}
export PYTHON=${PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1
ONLY=${ONLY:-}		# run only tests whose name contains this
pass=0 fail=0 skip=0
failed_list=()

run_one() {	# build, name, command...
	local b=$1 name=$2; shift 2
	local log rc p f s
	log=$(mktemp /tmp/iw-test-log.XXXXXX)
	timeout "${IW_TEST_TIMEOUT:-900}" "$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok - ' "$log")
	f=$(grep -c '^not ok - ' "$log")
	s=$(grep -c '^skip - ' "$log")
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
		echo "not ok - $name: sanitizer report" >>"$log"
		f=$((f + 1))
	elif [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc" >>"$log"
		f=$((f + 1))
	fi
	printf '%-12s %-40s %4d passed %4d failed %4d skipped\n' "[$b]" "$name" "$p" "$f" "$s"
	if [ -n "${SHOW_OK:-}" ]; then
		grep -E '^ok - ' "$log" | sed 's/^/      /'
	fi
	if [ "$f" -gt 0 ] || [ -n "${VERBOSE:-}" ]; then
		grep -E '^(not ok|skip) - ' "$log" | sed 's/^/      /' | head -50
		[ "$f" -gt 0 ] && grep -vE '^(ok|not ok|skip) - ' "$log" | tail -30 | sed 's/^/      | /'
		[ "$f" -gt 0 ] && failed_list+=("[$b] $name")
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	rm -f "$log"
}

# The events every test of a pass wrote, validated against the schema.
check_events() {	# build, directory
	local before=$fail
	SHOW_OK=1 run_one "$1" "events against schema/" \
	    "$PYTHON" tests/schema/validate_events.py "$2"
	if [ "$fail" -eq "$before" ]; then
		rm -rf "$2"
	else
		echo "      (the events are kept in $2)"
	fi
}

for b in "$@"; do
	export IW_BUILD=$ROOT/$b
	export IMAPWATCH=$ROOT/$b/imapwatch
	IW_EVENT_LOG=$(mktemp -d /tmp/iw-events.XXXXXX) || exit 2
	chmod 1777 "$IW_EVENT_LOG"	# -Z drops root before the first event
	export IW_EVENT_LOG
	if [ "$b" != build ]; then
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23:strict_string_checks=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=24
	else
		unset ASAN_OPTIONS UBSAN_OPTIONS
	fi
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		[ -n "$ONLY" ] && [[ "$name" != *"$ONLY"* ]] && continue
		run_one "$b" "$name" "$t"
	done
	for t in tests/t_*.sh tests/t_*.py; do
		[ -f "$t" ] || continue
		name=$(basename "$t")
		[ -n "$ONLY" ] && [[ "$name" != *"$ONLY"* ]] && continue
		case "$t" in
		*.py) run_one "$b" "$name" "$PYTHON" "$t" ;;
		*) run_one "$b" "$name" bash "$t" ;;
		esac
	done
	check_events "$b" "$IW_EVENT_LOG"
done
unset IW_EVENT_LOG
if [ ${#failed_list[@]} -gt 0 ]; then
	echo "failing: ${failed_list[*]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
