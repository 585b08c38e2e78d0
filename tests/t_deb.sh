#!/bin/bash
# SPDX-License-Identifier: ISC
# The Debian package.  `make deb` builds it with Debian's tools and
# lintian finds no error or warning; what it holds is checked from the
# outside (the binary's hardening with readelf, conffiles, the unit,
# the maintainer scripts).  Then in a fresh Debian 12 (debootstrap
# minbase, cached under /var/tmp; an overlay on tmpfs per run, in a
# private mount namespace, so nothing stays mounted): `apt-get install
# ./imapwatch_*.deb`, `imapwatch --version` and `imapwatch -r` on a
# bundled capture as the imapwatch user, the man page, then purge and
# what is left (configuration and /var/log/imapwatch gone, the user
# stays).  A policy-rc.d keeps packages in the chroot from starting
# anything.  Works inside such a chroot too (fresh-debian.sh).
#
# The package does not depend on the build directory under test: it is
# built and installed in the first pass (build) only.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
CACHE=${IW_DEB_CHROOT:-/var/tmp/iw-deb-chroot}
MIRROR=${IW_DEB_MIRROR:-http://deb.debian.org/debian}
PCAP=pcaps/dovecot-cleartext-login.pcap

ok() { if [ "$1" = 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fi; }

if [ "$(id -u)" != 0 ]; then
	echo "skip - the Debian package (root needed for the chroot)"
	exit 0
fi
if [ -n "${IW_BUILD:-}" ] && [ "$(basename "$IW_BUILD")" != build ]; then
	echo "skip - the Debian package is built and installed in the first pass (it does not depend on $(basename "$IW_BUILD"))"
	exit 0
fi
# everything mounted below goes away with this namespace
if [ -z "${IW_DEB_NS:-}" ]; then
	IW_DEB_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi

T=$(mktemp -d /tmp/iw-deb.XXXXXX)
trap 'umount -R "$T" 2>/dev/null; rm -rf "$T"' EXIT
now() { date +%s; }

# ---- make deb ----
t0=$(now)
make -s --no-print-directory deb >"$T/make.out" 2>&1
rc=$?
t_build=$(( $(now) - t0 ))
sed 's/^/# /' "$T/make.out"
ok $rc "make deb ($t_build s)"
V=$(sed -n 's/^#define IW_VERSION "\(.*\)"/\1/p' include/iw.h)
A=$(dpkg --print-architecture)
DEB=build/imapwatch_${V}_${A}.deb
[ -f "$DEB" ] && [ "$(dpkg-deb -f "$DEB" Version)" = "$V" ]
ok $? "$DEB, its version IW_VERSION of include/iw.h ($V)"
if [ ! -f "$DEB" ]; then
	exit 0
fi
sed 's/^/# lintian: /' build/deb/lintian.txt
! grep -q '^[EW]: ' build/deb/lintian.txt
ok $? "lintian: no error or warning ($(grep -c '^O: ' build/deb/lintian.txt) overridden, each with its reason in debian/)"
grep -q 'dpkg-buildpackage -b -us -uc\|dpkg-buildpackage: info: binary-only upload' build/deb/build.log
ok $? "built by dpkg-buildpackage -b -us -uc"

# ---- what the package holds ----
X=$T/x
dpkg-deb -x "$DEB" "$X"
BIN=$X/usr/bin/imapwatch
readelf -h "$BIN" | grep -q 'Type: *DYN'
ok $? "hardening: the binary is position-independent (PIE)"
readelf -lW "$BIN" | grep -q GNU_RELRO && readelf -dW "$BIN" | grep -q 'BIND_NOW\|FLAGS_1.*NOW'
ok $? "hardening: full RELRO (relro, bindnow)"
readelf --dyn-syms -W "$BIN" | grep -q '__stack_chk_fail'
ok $? "hardening: stack protector"
readelf --dyn-syms -W "$BIN" | grep -qE '__[a-z]+_chk(@|$| )'
ok $? "hardening: _FORTIFY_SOURCE (checked libc functions: $(readelf --dyn-syms -W "$BIN" | grep -oE '__[a-z]+_chk' | sort -u | tr '\n' ' '))"
conf=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles | sort | tr '\n' ' ')
[ "$conf" = "/etc/imapwatch/imapwatch.conf /etc/imapwatch/suppress /etc/logrotate.d/imapwatch " ]
ok $? "conffiles: $conf"
cmp -s "$X/etc/imapwatch/imapwatch.conf" contrib/imapwatch.conf.sample &&
    cmp -s "$X/etc/logrotate.d/imapwatch" contrib/imapwatch.logrotate
ok $? "the configuration and logrotate file are contrib/'s"
UNIT=$X/lib/systemd/system/imapwatch.service
sed 's|/usr/local/bin/imapwatch|/usr/bin/imapwatch|g' contrib/imapwatch.service | cmp -s - "$UNIT"
ok $? "the unit is contrib/imapwatch.service running /usr/bin/imapwatch (its hardening kept)"
grep -q '^User=imapwatch$' "$UNIT" && grep -q '^AmbientCapabilities=CAP_NET_RAW' "$UNIT" &&
    grep -q '^NoNewPrivileges=yes$' "$UNIT"
ok $? "the unit runs as imapwatch with CAP_NET_RAW, no new privileges"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./postinst >"$T/postinst"
grep -q 'deb-systemd-invoke try-restart' "$T/postinst" &&
    ! grep -qE 'deb-systemd-invoke (start|restart|\$_dh_action)' "$T/postinst"
ok $? "upgrade: a running sensor is restarted (try-restart), a stopped one is not started"
! grep -q 'deb-systemd-helper enable .*imapwatch' <(sed '/was-enabled/,/fi/d' "$T/postinst")
ok $? "install: the unit is not enabled (only re-enabled if it was)"

# ---- a fresh Debian 12 ----
base_ok() { [ -x "$CACHE/base/usr/bin/apt-get" ]; }
mkdir -p "$CACHE/archives/partial"
(
	flock 9
	if ! base_ok; then
		command -v debootstrap >/dev/null ||
		    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1
		rm -rf "$CACHE/base.new"
		debootstrap --variant=minbase bookworm "$CACHE/base.new" "$MIRROR" \
		    >"$CACHE/debootstrap.log" 2>&1 &&
		    mv "$CACHE/base.new" "$CACHE/base"
	fi
) 9>"$CACHE.lock"
base_ok
ok $? "a Debian 12 minbase root ($CACHE/base; log $CACHE/debootstrap.log)"
base_ok || exit 0

t0=$(now)
R=$T/root
mount -t tmpfs -o size=2g,mode=0755 tmpfs "$T" && mkdir -p "$T/upper" "$T/work" "$R" &&
    mount -t overlay overlay -o "lowerdir=$CACHE/base,upperdir=$T/upper,workdir=$T/work" "$R" &&
    mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" &&
    mount --bind "$CACHE/archives" "$R/var/cache/apt/archives"
ok $? "a throw-away overlay on it (tmpfs, private mounts)"
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$R/etc/resolv.conf"
cp "$DEB" "$R/root/"
install -m 0644 "$PCAP" "$R/tmp/capture.pcap"
c() {	# a command in the chroot, with a clean environment
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
as_user() {
	c setpriv --reuid=imapwatch --regid=imapwatch --init-groups "$@"
}

c apt-get update -qq >"$T/apt.log" 2>&1 &&
    c sh -c "cd /root && apt-get install -y -q --no-install-recommends ./imapwatch_*.deb man-db init-system-helpers" >>"$T/apt.log" 2>&1
rc=$?
[ $rc = 0 ] || tail -20 "$T/apt.log" | sed 's/^/# /'
ok $rc "apt-get install ./imapwatch_${V}_${A}.deb (its dependencies from the archive)"
[ "$(c dpkg-query -W -f='${Status} ${Version}' imapwatch 2>/dev/null)" = "install ok installed $V" ]
ok $? "dpkg: imapwatch $V installed"
pw=$(c getent passwd imapwatch)
uid=$(echo "$pw" | cut -d: -f3)
[ -n "$pw" ] && [ "$uid" -lt 1000 ] && [ "$(echo "$pw" | cut -d: -f7)" = /usr/sbin/nologin ] &&
    c getent group imapwatch >/dev/null
ok $? "an unprivileged system user and group imapwatch ($pw)"
[ "$(c stat -c '%U %G %a' /var/log/imapwatch 2>/dev/null)" = "imapwatch adm 2750" ]
ok $? "/var/log/imapwatch, the imapwatch user's, readable by adm (setgid adm)"
# systemd's LogsDirectory= would re-own the directory imapwatch:imapwatch
# at every start and lock the adm group out of the events.
! grep -q '^LogsDirectory' "$R/lib/systemd/system/imapwatch.service" &&
    grep -q '^ReadWritePaths=-/var/log/imapwatch$' "$R/lib/systemd/system/imapwatch.service"
ok $? "the unit writes to the package's /var/log/imapwatch without re-owning it (no LogsDirectory=)"
[ -f "$R/lib/systemd/system/imapwatch.service" ] &&
    [ ! -e "$R/etc/systemd/system/multi-user.target.wants/imapwatch.service" ]
ok $? "the unit is installed, not enabled"
out=$(as_user imapwatch --version 2>&1)
[[ "$out" == "imapwatch $V ("* ]]
ok $? "imapwatch --version as the imapwatch user: $out"
as_user imapwatch -r /tmp/capture.pcap -o /var/log/imapwatch/eve.json \
    >"$T/run.out" 2>&1
rc=$?
sigs=$(grep -o '"signature":"[a-z_]*"' "$R/var/log/imapwatch/eve.json" 2>/dev/null | sort | tr '\n' ' ')
want=$("${IMAPWATCH:-./imapwatch}" -r "$PCAP" | grep -o '"signature":"[a-z_]*"' | sort | tr '\n' ' ')
[ $rc = 0 ] && [ -n "$sigs" ] && [ "$sigs" = "$want" ] &&
    [ "$(c stat -c '%U %G' /var/log/imapwatch/eve.json)" = "imapwatch adm" ]
ok $? "imapwatch -r on $PCAP as the imapwatch user writes /var/log/imapwatch/eve.json (imapwatch:adm), the alerts of the build under test ($sigs)"
leaked=""
for p in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1])).get("passwords", [])))' "${PCAP%.pcap}.expect.json"); do
	grep -qF -- "$p" "$R/var/log/imapwatch/eve.json" "$T/run.out" && leaked="$leaked $p"
done
[ -z "$leaked" ]
ok $? "no password of the capture in what it wrote"
as_user env MANPAGER=cat MANWIDTH=80 LC_ALL=C man imapwatch >"$T/man.txt" 2>"$T/man.err"
grep -qE '^ *imapwatch +- +passive IMAP and IMAPS analyzer' "$T/man.txt" &&
    grep -q -- '--report' "$T/man.txt" && [ ! -s "$T/man.err" ]
ok $? "man imapwatch, as the imapwatch user, shows the installed page ($(wc -l <"$T/man.txt") lines) $(head -c 200 "$T/man.err")"
running=""
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && running="$running $(cat "$p/comm")"
done
[ -z "$running" ]
ok $? "nothing runs in the chroot after the install${running:+:$running}"

c apt-get purge -y -q imapwatch >"$T/purge.log" 2>&1
ok $? "apt-get purge imapwatch"
left=$(cd "$R" && find etc var usr lib -name '*imapwatch*' 2>/dev/null | tr '\n' ' ')
[ ! -e "$R/etc/imapwatch" ] && [ ! -e "$R/var/log/imapwatch" ] && [ -z "$left" ]
ok $? "purge removes the configuration, /var/log/imapwatch and every file (left: ${left:-nothing})"
c getent passwd imapwatch >/dev/null
ok $? "the imapwatch user stays after purge"
t_chroot=$(( $(now) - t0 ))
echo "# time: make deb ${t_build} s, install/run/purge in the chroot ${t_chroot} s"
