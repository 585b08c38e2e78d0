#!/bin/bash
# SPDX-License-Identifier: ISC
# Regenerates the project's own captures of real software (pcaps/dovecot-*)
# and their expectations (pcaps/dovecot-*.expect.json).  Run by
# `make captures` (needs root), never by `make test`.
#
#   tests/captures/make-captures.sh            every scenario
#   ONLY=tls12 tests/captures/make-captures.sh scenarios whose name has "tls12"
#   KEEP=1 ...                                 keep the work directory
#   KEYLOG=only ... / KEYLOG=no ...            only / not the captures with
#                                              key logs (pcaps/keylog/)
#
# Two network namespaces joined by a veth pair:
#   iwcap-srv  10.77.0.1/24  fd77::1/64   dovecot, tcpdump (on the veth)
#   iwcap-cli  10.77.0.2/24  fd77::2/64   curl, openssl s_client, python
# The client must not share the server's address: dovecot treats such a
# client as secure, and then neither advertises LOGINDISABLED nor refuses a
# plaintext login.  No traffic leaves the two namespaces.
#
# The scenarios, the dovecot configurations and the expectations are in
# capture.py; the clients it drives are curl, openssl s_client, python3
# imaplib and raw sockets (clients.py).  Every expected value is checked
# against an independent source (the client's own output, dovecot's log,
# tshark, openssl x509) before an expectation file is written.
set -eu

cd "$(dirname "$0")/../.."
ROOT=$PWD
PY=${PYTHON:-/usr/bin/python3}
SRV=iwcap-srv
CLI=iwcap-cli

die() { echo "make-captures: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, tcpdump)"
for c in ip dovecot tcpdump tshark curl openssl "$PY"; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found (make test-deps installs it)"
done
[ -x /usr/lib/dovecot/imap-login ] || die "dovecot-imapd is not installed"

WORK=$(mktemp -d /tmp/iwcap.XXXXXX)
chmod 755 "$WORK"

cleanup() {
	local rc=$? ns pids
	set +e
	for ns in $SRV $CLI; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && kill $pids 2>/dev/null
	done
	sleep 0.5
	for ns in $SRV $CLI; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	if [ -n "${KEEP:-}" ]; then
		echo "make-captures: work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Leftovers of an interrupted run.
for ns in $SRV $CLI; do
	if ip netns list | grep -qw "^$ns"; then
		pids=$(ip netns pids "$ns")
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
		ip netns del "$ns"
	fi
done

tests/captures/certs.sh

echo "make-captures: namespaces $SRV (10.77.0.1, fd77::1) and $CLI (10.77.0.2, fd77::2)"
ip netns add $SRV
ip netns add $CLI
ip link add iwcap-s type veth peer name iwcap-c
ip link set iwcap-s netns $SRV
ip link set iwcap-c netns $CLI
ip -n $SRV addr add 10.77.0.1/24 dev iwcap-s
ip -n $CLI addr add 10.77.0.2/24 dev iwcap-c
ip -n $SRV -6 addr add fd77::1/64 dev iwcap-s nodad
ip -n $CLI -6 addr add fd77::2/64 dev iwcap-c nodad
for ns in $SRV $CLI; do ip -n $ns link set lo up; done
ip -n $SRV link set iwcap-s up
ip -n $CLI link set iwcap-c up
# No router solicitations or other chatter: the captures hold the test only.
for ns in $SRV $CLI; do
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.router_solicitations=0 \
	    net.ipv6.conf.default.router_solicitations=0 >/dev/null 2>&1 || true
done

rc=0
if [ "${KEYLOG:-}" != only ]; then
	"$PY" tests/captures/capture.py --root "$ROOT" --work "$WORK" \
	    --srv-ns $SRV --cli-ns $CLI --iface iwcap-s ${ONLY:+--only "$ONLY"} ||
	    rc=1
fi
# the captures with key logs (pcaps/keylog/, tests/captures/keylog.py)
if [ "${KEYLOG:-}" != no ]; then
	"$PY" tests/captures/keylog.py --root "$ROOT" --work "$WORK" \
	    --srv-ns $SRV --cli-ns $CLI --iface iwcap-s ${ONLY:+--only "$ONLY"} ||
	    rc=1
fi
exit $rc
