#!/bin/bash
# SPDX-License-Identifier: ISC
# `make install` into a DESTDIR, and what it installs: the binary, the man
# page (rendered without a warning, every option documented, as --help
# lists them), the contrib files under share/doc with the unit's ExecStart
# pointing at PREFIX/bin; the unit checked by systemd-analyze, the
# logrotate snippet by logrotate.
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib/iwtest.sh
ROOT=$PWD
IW=$(readlink -f "$IW")
T=$(mktemp -d /tmp/iw-install.XXXXXX)
trap 'rm -rf "$T"' EXIT

D=$T/dest
PREFIX=/opt/iw
DOC=$D$PREFIX/share/doc/imapwatch
# -o all: install what is built, never rebuild from under a running suite
make -s -o all install DESTDIR="$D" PREFIX="$PREFIX" >"$T/make.out" 2>&1
ok $? "make install DESTDIR=... PREFIX=$PREFIX"
[ -x "$D$PREFIX/bin/imapwatch" ]; ok $? "installs PREFIX/bin/imapwatch"
cmp -s "$D$PREFIX/bin/imapwatch" "$ROOT/imapwatch"
ok $? "the installed binary is the one built"
"$D$PREFIX/bin/imapwatch" --version | grep -q '^imapwatch [0-9]'
ok $? "the installed binary runs"
MAN=$D$PREFIX/share/man/man1/imapwatch.1
[ -f "$MAN" ] && [ "$(stat -c %a "$MAN")" = 644 ]
ok $? "installs PREFIX/share/man/man1/imapwatch.1 (0644)"
for f in imapwatch.service imapwatch.logrotate imapwatch.conf.sample \
    suppress.sample; do
	[ -f "$DOC/$f" ] && [ "$(stat -c %a "$DOC/$f")" = 644 ]
	ok $? "installs PREFIX/share/doc/imapwatch/$f"
done
grep -q "^ExecStart=$PREFIX/bin/imapwatch " "$DOC/imapwatch.service"
ok $? "the installed unit runs PREFIX/bin/imapwatch"
[ -z "$(find "$D" -type f -perm /022 | head -1)" ]
ok $? "nothing installed group- or world-writable"

# the man page
LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$MAN" 2>"$T/groff"
[ $? = 0 ] && [ ! -s "$T/groff" ]
ok $? "man page renders without a warning $(head -c 200 "$T/groff")"
LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$MAN" >"$T/man.txt" 2>/dev/null
for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "CONFIGURATION FILE" \
    "SUPPRESSION FILE" EVENTS FINDINGS SIGNALS "EXIT STATUS" ENVIRONMENT \
    FILES; do
	grep -q "^$sec\$" "$T/man.txt"; ok $? "man page has $sec"
done
"$IW" --help >"$T/help"
opts=$(sed -n '/long_options\[\] = {/,/{ NULL, 0, NULL, 0 }/p' \
    analyzer/run/main.c | sed -n 's/^.*{ "\([a-z0-9-]*\)",.*$/\1/p')
missing_man="" missing_help=""
for o in $opts; do
	grep -q -- "--$o" "$T/man.txt" || missing_man="$missing_man $o"
	case $o in read|interface|filter|output|snaplen|buffer-size|user|\
	    no-promiscuous-mode|help|version) continue ;; esac
	grep -q -- "--$o" "$T/help" || missing_help="$missing_help $o"
done
[ -z "$missing_man" ]; ok $? "man page documents every long option$missing_man"
[ -z "$missing_help" ]; ok $? "--help lists every long option$missing_help"
for f in $("$IW" --help >/dev/null; sed -n 's/^ *\[IW_F_[A-Z_]*\] = { "\([a-z_]*\)".*/\1/p' analyzer/common/findings.c); do
	grep -q "^       $f (" "$T/man.txt" || echo "# $f"
done >"$T/nofind"
[ ! -s "$T/nofind" ]; ok $? "man page describes every finding $(tr '\n' ' ' <"$T/nofind")"

# systemd unit, as installed, against the installed binary and man page
if command -v systemd-analyze >/dev/null; then
	sed "s|^ExecStart=$PREFIX|ExecStart=$D$PREFIX|" "$DOC/imapwatch.service" \
	    >"$T/imapwatch.service"
	MANPATH=$D$PREFIX/share/man systemd-analyze verify \
	    "$T/imapwatch.service" >"$T/verify" 2>&1
	ok $? "systemd-analyze verify accepts the unit $(head -c 300 "$T/verify")"
else
	ok 1 "systemd-analyze is installed (make test-deps)"
fi
for k in AmbientCapabilities=CAP_NET_RAW NoNewPrivileges=yes \
    ProtectSystem=strict ExecReload= CapabilityBoundingSet=; do
	grep -q "^$k" "$DOC/imapwatch.service"; ok $? "unit sets $k"
done
grep -q '^RestrictAddressFamilies=.*AF_PACKET' "$DOC/imapwatch.service"
ok $? "unit still allows AF_PACKET (capture)"

# logrotate snippet: its syntax, and that it rotates what the unit writes
if command -v logrotate >/dev/null; then
	# the imapwatch user is made when the service is set up, not here
	sed 's/create 0640 imapwatch adm/create 0640 root root/' \
	    "$DOC/imapwatch.logrotate" >"$T/imapwatch.logrotate"
	logrotate -d -s "$T/state" "$T/imapwatch.logrotate" >"$T/lr" 2>&1
	! grep -qi 'error' "$T/lr"
	ok $? "logrotate parses the snippet $(grep -i error "$T/lr" | head -1)"
	grep -q 'postrotate' "$DOC/imapwatch.logrotate" &&
	    grep -q 'HUP\|reload' "$DOC/imapwatch.logrotate"
	ok $? "logrotate snippet signals imapwatch after rotating"
else
	ok 1 "logrotate is installed (make test-deps)"
fi
finish
