#!/bin/bash
# SPDX-License-Identifier: ISC
# Seed corpora for the fuzz harnesses, into build-fuzz/seeds/<harness>/
# (never into the git tree): cut by seedgen from the project's captures
# (pcaps/, pcaps/edge/) and from ../shared/corpus (read in place), plus
# the test certificates, pcapng files as they are, and SASL responses.
# The curated seeds kept in git (tests/fuzz/seeds/<harness>/) are passed
# to the fuzzers separately by run.sh.
#
# usage: tests/fuzz/make-seeds.sh   (run.sh calls it; needs build-fuzz/seedgen)
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/build-fuzz/seeds
SHARED=${IW_SHARED:-$(cd "$ROOT/../shared" 2>/dev/null && pwd || true)}
rm -rf "$OUT"
mkdir -p "$OUT"/{packet,pcapng,imap,tls,x509,sasl,tls_keylog}

# captures: ours first, then the shared corpus (if there)
list=$(mktemp)
trap 'rm -f "$list"' EXIT
find pcaps -type f \( -name '*.pcap' -o -name '*.pcapng' \) -print0 >"$list"
if [ -n "$SHARED" ] && [ -d "$SHARED/corpus" ]; then
	find "$SHARED/corpus" -type f \( -name '*.pcap' -o -name '*.pcapng' \
	    -o -name '*.cap' \) -print0 >>"$list"
fi
xargs -0 build-fuzz/seedgen "$OUT" <"$list" 2>/dev/null || true

# pcapng: the files themselves (the first 64 KiB), and a few pcaps
# converted, so every block type and both byte orders are there
while IFS= read -r -d '' f; do
	case "$f" in *.pcapng)
		n=$(basename "$(dirname "$f")")_$(basename "$f" | tr -c 'A-Za-z0-9.\n-' _)
		head -c 65536 "$f" >"$OUT/pcapng/$n" ;;
	esac
done <"$list"
if command -v editcap >/dev/null; then
	for f in pcaps/edge/nflog.pcap pcaps/edge/null_le.pcap \
	    pcaps/edge/ipv6_frag.pcap pcaps/edge/pppoe.pcap \
	    pcaps/edge/pcap_nsec.pcap; do
		[ -f "$f" ] || continue
		editcap -F pcapng "$f" "$OUT/pcapng/$(basename "$f" .pcap).pcapng" \
		    2>/dev/null || true
	done
fi

# certificates: from the TLS streams (seedgen), and the test PKI
for f in tests/captures/certs/*.pem; do
	[ -f "$f" ] || continue
	openssl x509 -in "$f" -outform DER -out "$OUT/x509/$(basename "$f" .pem).der" \
	    2>/dev/null || rm -f "$OUT/x509/$(basename "$f" .pem).der"
done

# SASL: mechanism byte, flags byte, the decoded response
"${PYTHON:-python3}" - "$OUT/sasl" <<'PY'
import os, struct, sys
out = sys.argv[1]
M = dict(UNKNOWN=0, PLAIN=1, LOGIN=2, XOAUTH2=3, OAUTHBEARER=4, CRAM_MD5=5,
         DIGEST_MD5=6, SCRAM=7, NTLM=8, ANONYMOUS=9, EXTERNAL=10)
def ntlm3(user, unicode=True):
    u = user.encode('utf-16le') if unicode else user.encode()
    hdr = b'NTLMSSP\0' + struct.pack('<I', 3)
    off = 64
    fields = b''
    for ln in (0, 0, 0):            # LM, NT, domain
        fields += struct.pack('<HHI', ln, ln, off)
    fields += struct.pack('<HHI', len(u), len(u), off)      # user
    fields += struct.pack('<HHI', 0, 0, off + len(u))       # workstation
    fields += struct.pack('<HHI', 0, 0, off + len(u))       # session key
    flags = struct.pack('<I', 0x1 if unicode else 0x2)
    return hdr + fields + flags + u
seeds = {
    'plain': (M['PLAIN'], 1, b'\0alice\0secret'),
    'plain-authz': (M['PLAIN'], 0, b'admin\0alice\0secret'),
    'login-user': (M['LOGIN'], 2, b'alice'),
    'login-pass': (M['LOGIN'], 4 | 8, b'secret'),
    'xoauth2': (M['XOAUTH2'], 1, b'user=alice@example.test\x01auth=Bearer tok\x01\x01'),
    'oauthbearer': (M['OAUTHBEARER'], 1, b'n,a=alice=2Cx=3Dy,\x01host=imap\x01auth=Bearer t\x01\x01'),
    'cram': (M['CRAM_MD5'], 0, b'alice 0123456789abcdef0123456789abcdef'),
    'digest': (M['DIGEST_MD5'], 0, b'charset=utf-8,username="al\\"ice",realm="x",nonce="n"'),
    'scram': (M['SCRAM'], 1, b'n,a=admin,n=alice=2C,r=fyko+d2lbbFgONRv9qkxdawL'),
    'ntlm-unicode': (M['NTLM'], 0, ntlm3('alice')),
    'ntlm-oem': (M['NTLM'], 0, ntlm3('bob', False)),
    'raw-b64': (M['PLAIN'], 0x10, b'AGFsaWNlAHNlY3JldA=='),
}
for name, (m, fl, body) in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(bytes([m, fl]) + body)
PY

# fuzz_tls_keylog: sessions the harness seals with its key log's secrets
# (header byte, then "ctl u16 bytes" chunks; tests/fuzz/fuzz_tls_keylog.c)
"${PYTHON:-python3}" - "$OUT/tls_keylog" <<'PY'
import os, struct, sys
out = sys.argv[1]
def c(ctl, b=b''):
    return bytes([ctl]) + struct.pack('>H', len(b)) + b
S = 0x80                                # to the client
def param(ctl, v): return bytes([ctl]) + struct.pack('>H', v)  # ops 4-6
def app(d, s): return c(d | 0x03, s.encode())
def hs(d, i, body=b''): return c(d | 0x10 | i, body)
CERT, CV, FIN, KU, NST, EE, CR, EOED = range(8)
def stage(d, s): return param(d | 0x40 | s, 0)
greet = '* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN COMPRESS=DEFLATE] ready\r\n'
imap = [app(0, 'a1 CAPABILITY\r\n'),
        app(S, '* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN COMPRESS=DEFLATE\r\na1 OK done\r\n'),
        app(0, 'a2 LOGIN alice s3cret\r\n'), app(S, 'a2 OK logged in\r\n'),
        app(0, 'a3 AUTHENTICATE PLAIN AGFsaWNlAHMzY3JldA==\r\n'), app(S, 'a3 NO [AUTHENTICATIONFAILED] no\r\n'),
        app(0, 'a4 COMPRESS DEFLATE\r\n'), app(S, 'a4 OK DEFLATE active\r\n')]
flight13 = [hs(S, EE, b'\x00\x00'), hs(S, CERT), hs(S, CV, b'\x04\x03\x00\x04abcd'),
            hs(S, FIN, b'\x11' * 32), hs(0, FIN, b'\x22' * 32)]
close = [c(0x01, b'\x01\x00'), c(S | 0x01, b'\x01\x00')]
seeds = {
    'tls13-imaps': bytes([0]) + b''.join(flight13) + app(S, greet) + b''.join(imap) + b''.join(close),
    'tls13-starttls': bytes([2]) + b''.join(flight13) + app(0, 'a2 CAPABILITY\r\n') +
        app(S, '* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na2 OK\r\n') + b''.join(imap[2:4]),
    'tls13-keyupdate': bytes([0]) + b''.join(flight13) + app(S, greet) +
        hs(0, KU, b'\x01') + app(0, 'a1 LOGIN bob pw\r\n') + hs(S, KU, b'\x00') +
        hs(S, NST, b'\x00\x00\x1c\x20' + b'\x00' * 4 + b'\x00' + b'\x00\x04tick' + b'\x00\x00') +
        app(S, 'a1 OK\r\n') + c(0x70, b'a2 LOGOUT\r\n'),
    'tls13-bad-cert-alert': bytes([0]) + hs(S, EE, b'\x00\x00') +
        hs(S, CERT, b'0\x82\x01\x00' + b'\x00' * 16) + hs(S, CV, b'\x04\x03\x00\x00') +
        hs(S, FIN, b'\x11' * 32) + c(0x02, b'\x02\x2a'),
    'tls13-flipped': bytes([0]) + b''.join(flight13) + c(0x33, b'\x05a1 LOGIN x y\r\n') +
        app(S, greet),
    'tls13-early': bytes([0x10]) + app(0, 'a0 CAPABILITY\r\n') + hs(S, EE, b'\x00\x04\x00\x2a\x00\x00') +
        hs(S, CERT) + hs(S, FIN, b'\x11' * 32) + hs(0, EOED) + hs(0, FIN, b'\x22' * 32) +
        app(S, greet),
    'tls13-missing-live': bytes([0x0c]) + b''.join(flight13) + app(S, greet) +
        param(0x60, 60) + app(0, 'a1 LOGIN carol pw\r\n'),
    'tls12-imaps': bytes([1]) + hs(S, CERT) + c(S | 0x20, b'\x16\x03\x03\x00\x04\x0e\x00\x00\x00') +
        stage(0, 1) + hs(0, FIN, b'\x33' * 12) + stage(S, 1) + hs(S, FIN, b'\x44' * 12) +
        app(S, greet) + b''.join(imap) + b''.join(close),
    'tls12-starttls-gap': bytes([3]) + hs(S, CERT) + stage(0, 1) + hs(0, FIN, b'\x33' * 12) +
        stage(S, 1) + hs(S, FIN, b'\x44' * 12) + app(0, 'a2 CAPABILITY\r\n') +
        param(0x50, 100) + app(0, 'a3 LOGIN dave pw\r\n'),
}
for name, b in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(b)
PY

# the curated seeds in git join in (run.sh also passes them directly)
for h in packet pcapng imap tls x509 sasl tls_keylog; do
	[ -d "tests/fuzz/seeds/$h" ] && cp tests/fuzz/seeds/$h/* "$OUT/$h/" 2>/dev/null || true
done
for h in packet pcapng imap tls x509 sasl tls_keylog; do
	printf '%-7s %5d seeds %6s\n' "$h" "$(ls "$OUT/$h" | wc -l)" \
	    "$(du -sh "$OUT/$h" | cut -f1)"
done
