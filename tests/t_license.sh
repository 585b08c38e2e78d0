#!/bin/bash
# SPDX-License-Identifier: ISC
# The licence is ISC (LICENSE), the same text Debian's copyright file
# gives, and every source file says so in an SPDX line near its top, so
# that a file copied out of the tree keeps its terms.  Checked on the
# files git tracks; a planted file without the line must be caught.
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib/iwtest.sh

TAG='SPDX-License-Identifier: ISC'

# the files that must carry the line: code, scripts, build and packaging
# files, the man page (data, captures and generated text need not)
sources() {
	git ls-files -- '*.c' '*.h' '*.py' '*.sh' Makefile .ci/run \
	    debian/rules debian/imapwatch.postinst debian/imapwatch.postrm \
	    debian/imapwatch.prerm 'contrib/*' '*.1' tests/run.rules |
	    grep -v '^pcaps/'
}

# files among "$@" without the line in their first three lines
missing() {
	local f
	for f in "$@"; do
		[ -f "$f" ] || continue
		head -3 "$f" | grep -qF "$TAG" || echo "$f"
	done
}

grep -q '^ISC License$' LICENSE 2>/dev/null
ok $? "LICENSE is the ISC licence"

# LICENSE's permission and warranty paragraphs equal debian/copyright's
lic=$(sed -n '/^Permission/,$p' LICENSE | tr -s ' \n' ' ')
deb=$(sed -n '/^ Permission/,$p' debian/copyright | sed 's/^ \.$//; s/^ //' |
    tr -s ' \n' ' ')
[ -n "$lic" ] && [ "$lic" = "$deb" ]
ok $? "LICENSE and debian/copyright give the same terms"

mapfile -t files < <(sources)
[ "${#files[@]}" -gt 150 ]
ok $? "${#files[@]} source files to check"
mapfile -t bad < <(missing "${files[@]}")
[ "${#bad[@]}" -eq 0 ]
ok $? "every source file has an SPDX ISC line${bad:+ (missing: ${bad[*]:0:5})}"

# the check sees a file without the line
T=$(mktemp -d /tmp/iw-licence.XXXXXX)
trap 'rm -rf "$T"' EXIT
printf '/* no licence here */\nint x;\n' >"$T/planted.c"
[ "$(missing "$T/planted.c")" = "$T/planted.c" ]
ok $? "a planted file without the line is reported"

# the man page gives the program's version
v=$(sed -n 's/^#define IW_VERSION "\(.*\)"/\1/p' include/iw.h)
grep -q "^\.TH IMAPWATCH 1 \"[^\"]*\" \"imapwatch $v\"" imapwatch.1
ok $? "imapwatch.1 is the page of imapwatch $v"
# and the README's install line names the package make deb writes
want="apt-get install ./build/deb/imapwatch_${v}_amd64.deb"
grep -qF "$want" README.md && [ "$(grep -c 'apt-get install ./build/.*\.deb' README.md)" = 1 ]
ok $? "README installs the package of imapwatch $v from build/deb/"
finish
