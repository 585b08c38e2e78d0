#!/bin/bash
# SPDX-License-Identifier: ISC
# Runs the whole suite once per build directory given (e.g. build
# build-asan) and ends with one line: "N passed, N failed, N skipped".
#
# Workers (README "Testing"): a pass runs imapwatch with one worker
# (IW_TEST_WORKERS=1 stands in for the default, the online CPUs, so that
# the tests of the limits see them whole).  BUILD@N is a second pass over
# the tests that read captures (WORKERS_TESTS) with N workers; a build
# directory whose name has "tsan" (ThreadSanitizer) runs those and
# t_workers_equal.py and the live tests only, with four workers.
#
# A test is a unit binary ($B/tests/test_*) or a script tests/t_*.sh /
# tests/t_*.py.  Each prints lines "ok - what", "not ok - what" or
# "skip - what (why)".  Strict: a test file counts one failure more when
# it exits non-zero (dies, times out) without a "not ok" line, when its
# output shows a sanitizer report, when it prints no "ok"/"not ok" line
# at all (unless only skips tests/run.rules allows), for each "skip" line
# tests/run.rules does not allow, and when it prints fewer checks than
# the floor tests/run.rules gives it.  Checks cannot vanish quietly.
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
RULES=tests/run.rules
pass=0 fail=0 skip=0
failed_list=()

# ---- tests/run.rules ----
rule_kind=() rule_file=() rule_when=() rule_arg=()

read_rules() {
	local n=0 kind file when rest arg why
	while read -r kind file when rest; do
		n=$((n + 1))
		case $kind in ''|'#'*) continue ;; esac
		arg=${rest%% -- *}
		why=${rest#* -- }
		if [[ $rest != *" -- "* ]] || [ -z "$why" ] || [ -z "$arg" ] ||
		    { [ "$kind" != skip ] && [ "$kind" != floor ]; } ||
		    { [ "$kind" = floor ] && ! [[ $arg =~ ^[0-9]+$ ]]; }; then
			echo "$RULES:$n: expected 'skip|floor FILE WHEN ARG -- WHY'" >&2
			exit 2
		fi
		if ! [[ $when =~ ^((always|corpus|no-corpus|asan|normal|root|not-root|(env|unset):[A-Za-z_][A-Za-z0-9_]*),?)+$ ]]; then
			echo "$RULES:$n: unknown condition in '$when'" >&2
			exit 2
		fi
		rule_kind+=("$kind") rule_file+=("$file")
		rule_when+=("$when") rule_arg+=("$arg")
	done <"$RULES"
}

when_holds() {	# build, conditions
	local c var conds
	IFS=, read -ra conds <<<"$2"
	for c in "${conds[@]}"; do
		case $c in
		always) ;;
		corpus) [ -d "$IW_SHARED/corpus" ] || return 1 ;;
		no-corpus) [ ! -d "$IW_SHARED/corpus" ] || return 1 ;;
		asan) [[ $1 == *asan* ]] || return 1 ;;
		normal) [[ $1 != *asan* ]] || return 1 ;;
		root) [ "$(id -u)" = 0 ] || return 1 ;;
		not-root) [ "$(id -u)" != 0 ] || return 1 ;;
		env:*) var=${c#env:}; [ -n "${!var:-}" ] || return 1 ;;
		unset:*) var=${c#unset:}; [ -z "${!var:-}" ] || return 1 ;;
		*) return 1 ;;
		esac
	done
}

skip_allowed() {	# build, test name, text after "skip - "
	local i
	for i in "${!rule_kind[@]}"; do
		[ "${rule_kind[$i]}" = skip ] || continue
		[ "${rule_file[$i]}" = "$2" ] || [ "${rule_file[$i]}" = '*' ] ||
		    continue
		[[ $3 == "${rule_arg[$i]}"* ]] || continue
		when_holds "$1" "${rule_when[$i]}" && return 0
	done
	return 1
}

floor_of() {	# build, test name: the floor that applies, or 0
	local i floor=0
	for i in "${!rule_kind[@]}"; do
		[ "${rule_kind[$i]}" = floor ] && [ "${rule_file[$i]}" = "$2" ] ||
		    continue
		when_holds "$1" "${rule_when[$i]}" || continue
		[ "${rule_arg[$i]}" -gt "$floor" ] && floor=${rule_arg[$i]}
	done
	echo "$floor"
}

# The failures of a test's run beyond its own "not ok" lines, as lines.
strictness() {	# build, name, log, rc, passed, failed
	local b=$1 name=$2 log=$3 rc=$4 p=$5 f=$6 line allowed=0 floor
	while IFS= read -r line; do
		if skip_allowed "$b" "$name" "${line#skip - }"; then
			allowed=$((allowed + 1))
		else
			echo "not ok - $name: a skip tests/run.rules does not allow: ${line#skip - }"
		fi
	done < <(grep '^skip - ' "$log")
	# (result lines may quote a report: they count for themselves)
	if grep -vE '^(ok|not ok|skip) - ' "$log" |
	    grep -qE 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer'; then
		echo "not ok - $name: sanitizer report"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
	fi
	if [ $((p + f)) -eq 0 ] && [ "$allowed" -eq 0 ]; then
		echo "not ok - $name printed no ok or not ok line"
	fi
	floor=$(floor_of "$b" "$name")
	if [ $((p + f)) -lt "$floor" ]; then
		echo "not ok - $name: $((p + f)) checks, fewer than its floor $floor ($RULES)"
	fi
}

run_one() {	# build, name, command...
	local b=$1 name=$2; shift 2
	local log rc p f s strict
	log=$(mktemp /tmp/iw-test-log.XXXXXX)
	timeout "${IW_TEST_TIMEOUT:-900}" "$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok - ' "$log")
	f=$(grep -c '^not ok - ' "$log")
	s=$(grep -c '^skip - ' "$log")
	strict=$(strictness "$b" "$name" "$log" "$rc" "$p" "$f")
	if [ -n "$strict" ]; then
		echo "$strict" >>"$log"
		f=$((f + $(echo "$strict" | wc -l)))
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
	SHOW_OK=1 run_one "$1" "events-vs-schema" \
	    "$PYTHON" tests/schema/validate_events.py "$2"
	if [ "$fail" -eq "$before" ]; then
		rm -rf "$2"
	else
		echo "      (the events are kept in $2)"
	fi
}

# the tests that read captures and check what imapwatch finds in them
WORKERS_TESTS="t_pcaps.py t_imap_corpus.py t_tls_corpus.py t_schema.py"
TSAN_TESTS="t_pcaps.py t_imap_corpus.py t_tls_corpus.py t_workers_equal.py
    t_live.sh t_live_replay.sh"

# A name listed for a pass that is no test would shrink the pass
# without a word: a pass that runs such a list stops the run.
check_listed() {	# list
	local t
	for t in $1; do
		[ -f "tests/$t" ] && continue
		echo "run.sh: $t is listed for a pass, but tests/$t does not exist"
		exit 2
	done
}

# Is word $2 in the list $1?  (Words, not a pattern on the string: a
# list wrapped over two lines once dropped the test before the break.)
listed() {
	local w
	for w in $1; do
		[ "$w" = "$2" ] && return 0
	done
	return 1
}

# Is test file $2 run in pass $1?
in_pass() {
	case $1 in
	*@*) listed "$WORKERS_TESTS" "$2" ;;
	*tsan*) listed "$TSAN_TESTS" "$2" ;;
	*) true ;;
	esac
}

read_rules
for spec in "$@"; do
	b=${spec%@*}
	export IW_TEST_WORKERS=1
	[[ $spec == *@* ]] && IW_TEST_WORKERS=${spec#*@}
	[[ $b == *tsan* ]] && IW_TEST_WORKERS=4
	[[ $spec == *@* ]] && check_listed "$WORKERS_TESTS"
	[[ $b == *tsan* ]] && check_listed "$TSAN_TESTS"
	export IW_BUILD=$ROOT/$b
	export IMAPWATCH=$ROOT/$b/imapwatch
	IW_EVENT_LOG=$(mktemp -d /tmp/iw-events.XXXXXX) || exit 2
	chmod 1777 "$IW_EVENT_LOG"	# -Z drops root before the first event
	export IW_EVENT_LOG
	unset ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS
	if [[ $b == *tsan* ]]; then
		export TSAN_OPTIONS=halt_on_error=0:exitcode=66:second_deadlock_stack=1
	elif [ "$b" != build ]; then
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23:strict_string_checks=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=24
	fi
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		[[ $spec == *@* ]] && continue
		[[ $b == *tsan* ]] && [ "$name" != test_queue ] && continue
		[ -n "$ONLY" ] && [[ "$name" != *"$ONLY"* ]] && continue
		run_one "$spec" "$name" "$t"
	done
	for t in tests/t_*.sh tests/t_*.py; do
		[ -f "$t" ] || continue
		name=$(basename "$t")
		in_pass "$spec" "$name" || continue
		[ -n "$ONLY" ] && [[ "$name" != *"$ONLY"* ]] && continue
		case "$t" in
		*.py) run_one "$spec" "$name" "$PYTHON" "$t" ;;
		*) run_one "$spec" "$name" bash "$t" ;;
		esac
	done
	check_events "$spec" "$IW_EVENT_LOG"
done
unset IW_TEST_WORKERS
unset IW_EVENT_LOG
if [ ${#failed_list[@]} -gt 0 ]; then
	echo "failing: ${failed_list[*]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
