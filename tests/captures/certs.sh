#!/bin/bash
# SPDX-License-Identifier: ISC
# Certificate recipes for the dovecot captures (tests/captures/make-captures.sh).
#
#   tests/captures/certs.sh [--force] [DIR]
#
# Makes, with openssl only, a test CA, a rogue CA and one server certificate
# per case the TLS dissector must judge.  Dates are fixed (openssl ca
# -startdate/-enddate) and serials are fixed, so the expectations stay valid
# when the captures are regenerated.  The files are kept in the repository
# (test keys, nothing else uses them); an existing set is reused unless
# --force is given, so re-running never changes the certificates the
# committed captures were made with.
set -eu

force=0
if [ "${1:-}" = --force ]; then force=1; shift; fi
DIR=${1:-$(cd "$(dirname "$0")" && pwd)/certs}
mkdir -p "$DIR"
cd "$DIR"

if [ $force = 0 ] && [ -f done.stamp ]; then
	echo "certs: reusing $DIR (use --force to remake)"
	exit 0
fi
rm -f ./*.pem ./*.key ./*.csr ./*.srl done.stamp
rm -rf ca-db

command -v openssl >/dev/null || { echo "certs: openssl not found" >&2; exit 1; }

# Validity windows (UTC).  "good" covers any plausible capture date.
GOOD_FROM=20200101000000Z   GOOD_TO=20491231235959Z
OLD_FROM=20010101000000Z    OLD_TO=20020101000000Z	# expired
NEW_FROM=20900101000000Z    NEW_TO=20991231235959Z	# not yet valid

mkdir -p ca-db
cat >ca.cnf <<CNF
[ ca ]
default_ca = labca
[ labca ]
dir              = $DIR/ca-db
database         = \$dir/index.txt
new_certs_dir    = \$dir
serial           = \$dir/serial
default_md       = sha256
policy           = anything
unique_subject   = no
copy_extensions  = none
email_in_dn      = no
[ anything ]
organizationName = optional
commonName       = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_selfsigned_server ]
basicConstraints = CA:false
subjectAltName = DNS:imap.example.test,DNS:mail.example.test
subjectKeyIdentifier = hash
CNF

newkey() {	# name type
	case $2 in
	rsa2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" 2>/dev/null ;;
	rsa1024) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$1.key" 2>/dev/null ;;
	p256)    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null ;;
	esac
}

# issue NAME SERIAL SUBJECT SAN(or "") FROM TO CA(ca|rogue|self) MD [KEYTYPE]
issue() {
	local name=$1 serial=$2 subj=$3 san=$4 from=$5 to=$6 ca=$7 md=$8 kt=${9:-rsa2048}
	newkey "$name" "$kt"
	openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
	{
		echo "[ ext ]"
		echo "basicConstraints = CA:false"
		echo "keyUsage = critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage = serverAuth"
		echo "subjectKeyIdentifier = hash"
		[ "$ca" = self ] || echo "authorityKeyIdentifier = keyid"
		[ -z "$san" ] || echo "subjectAltName = $san"
	} >"$name.ext"
	: >ca-db/index.txt
	echo "$serial" >ca-db/serial
	if [ "$ca" = self ]; then
		openssl ca -batch -config ca.cnf -selfsign -keyfile "$name.key" \
		    -startdate "$from" -enddate "$to" -md "$md" -preserveDN -notext \
		    -extfile "$name.ext" -extensions ext -in "$name.csr" \
		    -out "$name.pem" 2>/dev/null
	else
		openssl ca -batch -config ca.cnf -cert "$ca.pem" -keyfile "$ca.key" \
		    -startdate "$from" -enddate "$to" -md "$md" -preserveDN -notext \
		    -extfile "$name.ext" -extensions ext -in "$name.csr" \
		    -out "$name.pem" 2>/dev/null
	fi
	rm -f "$name.csr" "$name.ext"
	[ -s "$name.pem" ] || { echo "certs: could not make $name" >&2; exit 1; }
}

mkca() {	# name serial subject
	newkey "$1" rsa2048
	openssl req -new -key "$1.key" -subj "$3" -out "$1.csr" 2>/dev/null
	: >ca-db/index.txt
	echo "$2" >ca-db/serial
	openssl ca -batch -config ca.cnf -selfsign -keyfile "$1.key" \
	    -startdate "$GOOD_FROM" -enddate "$GOOD_TO" -md sha256 -preserveDN \
	    -notext -extensions v3_ca -in "$1.csr" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr"
}

GOODSAN="DNS:imap.example.test,DNS:mail.example.test"
mkca ca    01 "/O=IMAP Lab/CN=IMAP Lab Test CA"
mkca rogue 02 "/O=Elsewhere/CN=Rogue Test CA"

issue good       1001 "/O=IMAP Lab/CN=imap.example.test" "$GOODSAN" $GOOD_FROM $GOOD_TO ca sha256
issue good2      1002 "/O=IMAP Lab/CN=imap.example.test" "$GOODSAN" $GOOD_FROM $GOOD_TO ca sha256
issue wildcard   1003 "/O=IMAP Lab/CN=*.example.test" "DNS:*.example.test" $GOOD_FROM $GOOD_TO ca sha256
issue mismatch   1004 "/O=IMAP Lab/CN=other.example.org" "DNS:other.example.org" $GOOD_FROM $GOOD_TO ca sha256
issue sanovercn  1005 "/O=IMAP Lab/CN=imap.example.test" "DNS:mail.example.test" $GOOD_FROM $GOOD_TO ca sha256
issue cnonly     1006 "/O=IMAP Lab/CN=imap.example.test" "" $GOOD_FROM $GOOD_TO ca sha256
issue expired    1007 "/O=IMAP Lab/CN=imap.example.test" "$GOODSAN" $OLD_FROM $OLD_TO ca sha256
issue notyet     1008 "/O=IMAP Lab/CN=imap.example.test" "$GOODSAN" $NEW_FROM $NEW_TO ca sha256
issue selfsigned 1009 "/O=IMAP Lab/CN=imap.example.test" "$GOODSAN" $GOOD_FROM $GOOD_TO self sha256
issue rsa1024    100a "/O=IMAP Lab/CN=imap.example.test" "$GOODSAN" $GOOD_FROM $GOOD_TO ca sha256 rsa1024
issue sha1       100b "/O=IMAP Lab/CN=imap.example.test" "$GOODSAN" $GOOD_FROM $GOOD_TO ca sha1
issue ecdsa      100c "/O=IMAP Lab/CN=imap.example.test" "$GOODSAN" $GOOD_FROM $GOOD_TO ca sha256 p256
issue rogueleaf  100d "/O=IMAP Lab/CN=imap.example.test" "$GOODSAN" $GOOD_FROM $GOOD_TO rogue sha256

# Chains as the server sends them: leaf, then the issuing CA (a root sent in
# the chain is not a finding); the self-signed one alone.
for c in good good2 wildcard mismatch sanovercn cnonly expired notyet rsa1024 sha1 ecdsa; do
	cat "$c.pem" ca.pem >"$c.chain.pem"
done
cp selfsigned.pem selfsigned.chain.pem
cat rogueleaf.pem rogue.pem >rogueleaf.chain.pem

# DH parameters for DHE/ADH suites: the RFC 7919 ffdhe2048 group (no search).
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out dh.pem 2>/dev/null

rm -rf ca-db ca.cnf
chmod 644 ./*.pem ./*.key
touch done.stamp
echo "certs: made in $DIR"
