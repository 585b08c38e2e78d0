# SPDX-License-Identifier: ISC
# What the shell tests (tests/t_*.sh) share; source it after cd to the
# root of the tree:
#
#	. tests/lib/iwtest.sh
#
# ok STATUS WHAT      "ok - WHAT" when STATUS is 0, else "not ok - WHAT"
# skip WHAT           "skip - WHAT" (tests/run.rules must allow it)
# need_corpus WHAT    true when ../shared/corpus is there; otherwise one
#                     "skip - corpus: WHAT" line and false
# corpus_has REL      true when $CORPUS/REL exists; with the corpus
#                     present, a missing file is also a "not ok" line (a
#                     rename must not turn checks off quietly)
# clean_stderr FILE WHAT
#                     a "not ok" line if FILE holds a sanitizer report
# finish              exit 1 if any check failed, else 0: a test ends
#                     with it, never with a bare "exit 0" that would hide
#                     a death in its last command
IW=${IMAPWATCH:-./imapwatch}
PY=${PYTHON:-/usr/bin/python3}
CORPUS=${IW_SHARED:-../shared}/corpus
IW_FAILS=0
IW_SANITIZER='ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer'

ok() {
	if [ "$1" = 0 ]; then
		echo "ok - $2"
	else
		echo "not ok - $2"
		IW_FAILS=$((IW_FAILS + 1))
	fi
}

skip() {
	echo "skip - $1"
}

need_corpus() {
	[ -d "$CORPUS" ] && return 0
	skip "corpus: $1 (no corpus at $CORPUS)"
	return 1
}

corpus_has() {
	[ -e "$CORPUS/$1" ] && return 0
	[ -d "$CORPUS" ] && ok 1 "corpus file $1 is present"
	return 1
}

clean_stderr() {
	local rep
	rep=$(grep -m1 -E "$IW_SANITIZER" "$1" 2>/dev/null)
	[ -z "$rep" ] && return 0
	ok 1 "$2: no sanitizer report on stderr ($rep)"
	return 1
}

finish() {
	[ "$IW_FAILS" -eq 0 ] && exit 0
	exit 1
}
