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
mkdir -p "$OUT"/{packet,pcapng,imap,tls,x509,sasl}

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

# the curated seeds in git join in (run.sh also passes them directly)
for h in packet pcapng imap tls x509 sasl; do
	[ -d "tests/fuzz/seeds/$h" ] && cp tests/fuzz/seeds/$h/* "$OUT/$h/" 2>/dev/null || true
done
for h in packet pcapng imap tls x509 sasl; do
	printf '%-7s %5d seeds %6s\n' "$h" "$(ls "$OUT/$h" | wc -l)" \
	    "$(du -sh "$OUT/$h" | cut -f1)"
done
