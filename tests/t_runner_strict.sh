#!/bin/bash
# SPDX-License-Identifier: ISC
# tests/run.sh is strict: run on a tree of one tiny test file at a time
# (a copy of run.sh, rules written here, a stub schema check), it must
# fail the run when that file dies mid-way, exits non-zero, times out,
# prints nothing, prints a skip its rules do not allow (a corpus skip
# with the corpus present), prints fewer checks than its floor, or shows a
# sanitizer report; and pass when the file does what the rules allow.
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib/iwtest.sh
T=$(mktemp -d /tmp/iw-strict.XXXXXX)
trap 'rm -rf "$T"' EXIT

mkdir -p "$T/tree/tests/schema" "$T/tree/build" "$T/with/corpus" "$T/without"
cp tests/run.sh "$T/tree/tests/run.sh"
cat >"$T/tree/tests/schema/validate_events.py" <<'EOF'
print("ok - stub schema check")
EOF
cat >"$T/tree/tests/run.rules" <<'EOF'
# rules of the tiny tree
skip t_fake.sh always a documented skip -- allowed on purpose
skip * no-corpus corpus: -- allowed only without the corpus
floor t_fake.sh corpus 3 -- three checks when the corpus is there
EOF

# run.sh on the tree with t_fake.EXT holding the given text; $T/out has
# what it printed, the return value is its exit status
run_tree() {	# shared dir, file extension, text [, env assignments]
	local shared=$1 ext=$2 text=$3
	shift 3
	rm -f "$T"/tree/tests/t_fake.*
	printf '%s\n' "$text" >"$T/tree/tests/t_fake.$ext"
	env -u ONLY -u VERBOSE -u SHOW_OK -u IW_EVENT_LOG IW_SHARED="$shared" \
	    "$@" bash "$T/tree/tests/run.sh" build >"$T/out" 2>&1
}

# one case: what, expected outcome (pass|fail), the message run.sh must
# print when it fails, then run_tree's arguments
expect() {
	local what=$1 want=$2 msg=$3 rc good
	shift 3
	run_tree "$@"
	rc=$?
	if [ "$want" = passes ]; then
		[ $rc -eq 0 ] && grep -q '0 failed' "$T/out"
	else
		[ $rc -ne 0 ] && grep -qF -- "$msg" "$T/out"
	fi
	good=$?
	ok $good "run.sh: $what: the run $want (exit $rc)"
	[ $good -ne 0 ] && sed 's/^/      | /' "$T/out" | tail -8
	return 0
}

W=$T/with C=$T/without
expect "a file that passes" passes "" $W sh 'echo "ok - a"; echo "ok - b"; echo "ok - c"'
expect "a shell file that dies mid-way" fails "exited with status 3" \
    $W sh 'echo "ok - a"; exit 3; echo "ok - b"'
expect "a python file that dies mid-way" fails "exited with status 1" \
    $W py 'print("ok - a", flush=True)
raise SystemError("died")'
expect "a file killed by a signal" fails "exited with status" \
    $W sh 'echo "ok - a"; kill -SEGV $$'
expect "a file that prints nothing" fails "printed no ok or not ok line" \
    $C sh 'true'
expect "a file that prints only skips its rules allow" passes "" \
    $C sh 'echo "skip - corpus: x (none)"'
expect "a skip no rule allows" fails "a skip tests/run.rules does not allow" \
    $C sh 'echo "ok - a"; echo "skip - something (why)"'
expect "a skip its rules allow" passes "" \
    $C sh 'echo "ok - a"; echo "skip - a documented skip (why)"'
expect "a corpus skip without the corpus" passes "" \
    $C sh 'echo "ok - a"; echo "skip - corpus: the part that reads it (none)"'
expect "a corpus skip with the corpus present" fails \
    "a skip tests/run.rules does not allow: corpus:" \
    $W sh 'echo "ok - a"; echo "ok - b"; echo "ok - c"; echo "skip - corpus: x (none)"'
expect "fewer checks than the floor, corpus present" fails \
    "2 checks, fewer than its floor 3" $W sh 'echo "ok - a"; echo "ok - b"'
expect "as few checks without the corpus (no floor then)" passes "" \
    $C sh 'echo "ok - a"; echo "ok - b"'
expect "a sanitizer report on stderr, exit 0" fails "sanitizer report" \
    $W sh 'echo "ok - a"; echo "ok - b"; echo "ok - c"
echo "==1==ERROR: AddressSanitizer: heap-use-after-free" >&2'
expect "a UBSan report" fails "sanitizer report" \
    $W sh 'echo "ok - a"; echo "ok - b"; echo "ok - c"
echo "x.c:1:2: runtime error: signed integer overflow" >&2'
expect "a file that does not end in time" fails "exited with status 124" \
    $W sh 'echo "ok - a"; sleep 20' IW_TEST_TIMEOUT=1
expect "a not ok line" fails "not ok - b" \
    $W sh 'echo "ok - a"; echo "not ok - b"; echo "ok - c"'

# a rule without a reason is refused before anything runs
cp "$T/tree/tests/run.rules" "$T/rules.good"
echo "skip t_fake.sh always no reason given" >>"$T/tree/tests/run.rules"
run_tree $W sh 'echo "ok - a"'
rc=$?
[ $rc -eq 2 ] && grep -q "run.rules:.*expected" "$T/out"
ok $? "run.sh: a rule without its reason stops the run (exit $rc)"
cp "$T/rules.good" "$T/tree/tests/run.rules"
finish
