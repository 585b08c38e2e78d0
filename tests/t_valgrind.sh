#!/bin/bash
# SPDX-License-Identifier: ISC
# Valgrind's memcheck over representative runs of the normal build: no
# invalid read or write, no use of uninitialised memory, no leak.  (The
# ASan+UBSan pass runs LeakSanitizer over the whole suite; valgrind also
# sees what the sanitizers do not instrument, such as libpcap, OpenSSL,
# json-c and zlib.)
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib/iwtest.sh
BUILD=${IW_BUILD:-$PWD/build}

case "$BUILD" in
*asan*) skip "valgrind runs on the normal build only (ASan here)"
	exit 0 ;;
esac
# make test-deps installs it: its absence is a failure, not a skip
command -v valgrind >/dev/null; ok $? "valgrind is installed"
[ "$IW_FAILS" -eq 0 ] || finish
T=$(mktemp -d /tmp/iw-vg.XXXXXX)
trap 'rm -rf "$T"' EXIT

vg() {	# what, command...
	local what=$1; shift
	valgrind --quiet --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite \
	    --track-origins=yes "$@" >/dev/null 2>"$T/vg"
	local rc=$?
	if [ $rc -eq 0 ]; then
		ok 0 "valgrind: $what"
	else
		ok 1 "valgrind: $what (exit $rc)"
		head -30 "$T/vg" | sed 's/^/      | /'
	fi
}

vg "STARTTLS, TLS 1.2, certificates" "$IW" -r pcaps/dovecot-starttls-tls12.pcap --flows
vg "NULL cipher with LOGIN inside" "$IW" -r pcaps/dovecot-starttls-null-sha256.pcap
vg "COMPRESS=DEFLATE" "$IW" -r pcaps/dovecot-cleartext-compress.pcap
vg "brute force, memo tables" "$IW" -r pcaps/dovecot-bruteforce.pcap
vg "edge: overlaps with different data" "$IW" -r pcaps/edge/overlap_diff.pcap --flows
vg "edge: IPv4 fragments" "$IW" -r pcaps/edge/ipv4_frag.pcap --flows
vg "edge: snaplen cuts" "$IW" -r pcaps/edge/snaplen.pcap --flows
if need_corpus "valgrind on corpus captures"; then
	vg "corpus: SSLv2 hello, EXPORT suite" "$IW" --all-tls --flows \
	    -r "$CORPUS/suricata-verify/bypass-depth-disabled_input.pcap"
	vg "corpus: 10,000 SANs over 400 segments" "$IW" --all-tls \
	    -r "$CORPUS/zeek/tls-fragmented-handshake.pcap"
	vg "corpus: pcapng mixing link types" "$IW" --flows \
	    -r "$CORPUS/pcapplusplus/many_interfaces-1.pcapng"
	vg "corpus: damaged capture" "$IW" --all-tls \
	    -r "$CORPUS/suricata-verify/tls_DER-incomplete-header.pcap"
fi
for t in test_imap test_tls test_x509; do
	vg "unit $t" "$BUILD/tests/$t"
done
finish
