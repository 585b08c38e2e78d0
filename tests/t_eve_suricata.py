#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""EVE as Suricata writes it: the encodings Suricata's schema cannot say.

Every EVE event of every test run is validated against Suricata's own
schema at the end of the pass (tests/schema/validate_events.py with
tests/schema/suricata.py).  This test checks what a schema cannot: on
every capture of pcaps/ and of the shared corpus (run --flows --all-tls),
each value against what openssl or tshark says of the same bytes.

  - tls.certificate and tls.chain[0]: base64 DER that openssl parses back
    to the leaf (its SHA-1 and SHA-256 are tls.fingerprint and
    tls.fingerprint_sha256; in the corpus, its SHA-256 is the truth
    file's, tshark's);
  - tls.subject and tls.issuerdn: openssl's reading of the DER in
    certificate order (-nameopt sep_comma_plus_space,oid,utf8), with
    x509-parser's attribute names (the table below, from x509-parser 0.16
    and oid-registry 0.7, which Suricata 8.0.6 uses);
  - tls.subjectaltname: openssl -ext subjectAltName, in Suricata's forms;
  - tls.notbefore/notafter: openssl -dateopt iso_8601, without a zone;
  - tls.serial: openssl -serial, with the DER's leading 00;
  - tls.version: tshark's (truth files), in Suricata's names;
  - client_handshake ciphers and exts: the JA3 string's (whose equality
    with tshark's is t_tls_corpus.py's);
  - alert: action "allowed", gid 1, rev 1 on every alert;
  - flow: reason one of Suricata's, tcp.state and flags against the
    truth file (tshark's flags), reason against the capture's end;
  - anomaly: each kind as schema/events.schema.json's x-eve table says,
    and that table is analyzer/output/anomaly_eve.c's;
  - the SNI with a NUL byte (a capture made here): written whole, as
    \\u0000, and never a certificate match.

Environment: IMAPWATCH, IW_SHARED, ONLY_PCAP.
"""

import base64
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAPWATCH = os.environ.get("IMAPWATCH") or os.path.join(ROOT, "imapwatch")
SHARED = os.environ.get("IW_SHARED") or os.path.join(ROOT, "..", "shared")
CORPUS = os.path.join(SHARED, "corpus")
ONLY = os.environ.get("ONLY_PCAP", "")
CLOSED_TIMEOUT, NEW_TIMEOUT, IDLE_TIMEOUT = 60, 60, 1800	# analyzer/flow/flow.c

# x509-parser 0.16 (objects.rs ABBREV_MAP), then oid-registry 0.7's short
# names (x509, pkcs9 sets); anything else is "OID(dotted)".
DN_NAMES = {
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
    "2.5.4.10": "O", "2.5.4.11": "OU", "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "Email", "2.5.4.4": "surname",
    "2.5.4.5": "serialNumber", "2.5.4.9": "streetAddress",
    "2.5.4.12": "title", "2.5.4.13": "description",
    "2.5.4.15": "businessCategory", "2.5.4.16": "postalAddress",
    "2.5.4.17": "postalCode", "2.5.4.41": "name", "2.5.4.42": "givenName",
    "2.5.4.43": "initials", "2.5.4.44": "generationQualifier",
    "2.5.4.45": "uniqueIdentifier", "2.5.4.46": "dnQualifier",
    "0.9.2342.19200300.100.1.1": "uid",
    "1.3.6.1.4.1.311.60.2.1.1": "msJurisdictionLocality",
    "1.3.6.1.4.1.311.60.2.1.2": "msJurisdictionStateOrProvince",
    "1.3.6.1.4.1.311.60.2.1.3": "msJurisdictionCountry",
    "1.2.840.113549.1.9.2": "unstructuredName",
}
# tshark 4.0's version names (truth files) as Suricata's
VERSIONS = {"SSL 2.0": "SSLv2", "SSL 3.0": "SSLv3", "TLS 1.0": "TLSv1",
            "TLS 1.1": "TLS 1.1", "TLS 1.2": "TLS 1.2", "TLS 1.3": "TLS 1.3"}
passed = failed = 0


def ok(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("not ok - %s%s" % (what, " (%s)" % detail if detail else ""))
    return cond


def summary(what, before):
    """One ok line for a group whose failures were printed one by one."""
    if failed == before[1]:
        print("ok - %s (%d checks)" % (what, passed - before[0]))


def run(path, extra=()):
    r = subprocess.run([IMAPWATCH, "--flows", "--all-tls", "-r", path] +
                       list(extra), stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, timeout=600)
    return [json.loads(x) for x in r.stdout.decode("utf-8").splitlines()]


# ---- certificates against openssl ----

def openssl(der, *args):
    r = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout"] +
                       list(args), input=der, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def ossl_dn(der, which):
    """openssl's DN in certificate order, attribute names as Suricata's."""
    rc, out = openssl(der, "-" + which, "-nameopt",
                      "sep_comma_plus_space,oid,utf8")
    if rc != 0:
        return None
    text = out.strip().split("=", 1)[1]
    # "2.5.4.10=IMAP Lab, 2.5.4.3=x": rename each attribute type
    return re.sub(r"(^|, | \+ )([0-9]+(?:\.[0-9]+)+)=",
                  lambda m: m.group(1) + DN_NAMES.get(
                      m.group(2), "OID(%s)" % m.group(2)) + "=", text)


def ip_bytes(text):
    import ipaddress
    return "[%s]" % ", ".join(str(b) for b in
                              ipaddress.ip_address(text).packed)


def ossl_sans(der):
    rc, out = openssl(der, "-ext", "subjectAltName")
    lines = [x.strip() for x in out.splitlines()[1:] if x.strip()]
    if rc != 0 or not lines:
        return []
    out = []
    for item in ", ".join(lines).split(", "):
        kind, _, v = item.partition(":")
        if kind == "DNS" or kind == "URI":
            out.append(v)
        elif kind == "IP Address":
            out.append(ip_bytes(v))
        elif kind == "email":
            out.append("RFC822Name(%s)" % v)
        else:
            return None	# other kinds: openssl's text is not comparable
    return out


def ossl_date(der, which):
    rc, out = openssl(der, "-" + which, "-dateopt", "iso_8601")
    if rc != 0:
        return None
    v = out.strip().split("=", 1)[1]	# "2020-01-01 00:00:00Z"
    return v.replace(" ", "T").rstrip("Z")


def ossl_serial(der):
    rc, out = openssl(der, "-serial")
    if rc != 0:
        return None
    h = out.strip().split("=", 1)[1]
    if len(h) % 2:
        h = "0" + h
    if int(h[:2], 16) & 0x80:
        h = "00" + h	# DER keeps a positive number positive
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


def check_certificate(name, tls, truth_leaf, seen):
    chain = tls.get("chain")
    if not ok(isinstance(chain, list) and chain and
              tls.get("certificate") == chain[0],
              name + ": certificate is chain[0]"):
        return
    der = base64.b64decode(chain[0], validate=True)
    if der in seen:
        return	# the same certificate, checked already
    seen.add(der)
    if truth_leaf is not None:
        ok(hashlib.sha256(der).hexdigest() == truth_leaf["sha256"],
           name + ": chain[0] is the leaf tshark saw (SHA-256)")
    rc, fp = openssl(der, "-fingerprint", "-sha1")
    ok(rc == 0 and fp.strip().split("=", 1)[1].lower() ==
       tls.get("fingerprint"), name + ": openssl parses chain[0] back, "
       "SHA-1 is tls.fingerprint")
    rc, fp = openssl(der, "-fingerprint", "-sha256")
    ok(rc == 0 and fp.strip().split("=", 1)[1].lower() ==
       tls.get("fingerprint_sha256"), name + ": SHA-256 as well")
    for k, which in (("subject", "subject"), ("issuerdn", "issuer")):
        want = ossl_dn(der, which)
        ok(tls.get(k) == want, name + ": %s as openssl reads it" % k,
           "%r, openssl %r" % (tls.get(k), want))
    sans = ossl_sans(der)
    if sans is not None:
        ok((tls.get("subjectaltname") or []) == sans[:500],
           name + ": subjectaltname bare", "%r, openssl %r" % (
               tls.get("subjectaltname"), sans))
    for k in ("notbefore", "notafter"):
        want = ossl_date(der, "startdate" if k == "notbefore" else
                         "enddate")
        if want == "1970-01-01T00:00:00":
            want = None		# Suricata's "not set"
        ok(tls.get(k) == want, name + ": " + k, "%r, openssl %r" % (
            tls.get(k), want))
    ok(tls.get("serial") == ossl_serial(der), name + ": serial",
       "%r, openssl %r" % (tls.get("serial"), ossl_serial(der)))
    ok(len(tls.get("chain_details") or []) == len(chain),
       name + ": chain_details describes each certificate")


def check_handshake(name, tls):
    ja3 = (tls.get("ja3") or {}).get("string")
    ch = tls.get("client_handshake")
    if ja3 is None or ch is None:
        return
    f = ja3.split(",")
    want = lambda s: [int(x) for x in s.split("-")] if s else None  # noqa
    ok(ch.get("ciphers") == want(f[1]), name + ": client_handshake "
       "ciphers are the hello's (JA3)")
    ok(ch.get("exts") == want(f[2]), name + ": client_handshake exts "
       "are the hello's (JA3)")


def check_tls_event(name, ev, truth, seen):
    tls = ev.get("tls") or {}
    status = tls.get("certificate_status")
    ok(status in ("clear", "encrypted", "decrypted", "resumed", "absent"),
       name + ": certificate_status")
    ok((status == "clear") == ("certificate" in tls), name +
       ": certificate present exactly when seen in clear")
    if truth is not None and truth["summary"].get("tls_version"):
        v = truth["summary"]["tls_version"]
        m = re.fullmatch(r"TLS 1\.3 \((Facebook )?draft ([0-9]+)\)", v)
        want = VERSIONS.get(v) or (m and "TLS 1.3 draft-%s%s" % (
            m.group(2), "-fb" if m.group(1) else ""))
        ok(tls.get("version") == want, name + ": version %s is %s" % (
            v, want), repr(tls.get("version")))
    if status == "clear":
        leaf = None
        if truth is not None:
            for c in truth["tls"].get("certificates") or []:
                if c.get("direction") == "s2c" and c.get("chain"):
                    leaf = c["chain"][0]
                    break
        check_certificate(name, tls, leaf, seen)
    check_handshake(name, tls)


# ---- alerts, flows, anomalies ----

def check_alert(name, ev):
    a = ev["alert"]
    ok(a.get("action") == "allowed" and a.get("gid") == 1 and
       a.get("rev") == 1 and list(a)[:5] == ["action", "gid",
                                              "signature_id", "rev",
                                              "signature"],
       name + ": alert action, gid, rev in Suricata's order")


def check_flow(name, ev, truth, last):
    f, tcp = ev["flow"], ev["tcp"]
    ok(f["reason"] in ("timeout", "forced", "shutdown", "tcp_reuse"),
       name + ": flow.reason is one of Suricata's", f["reason"])
    closed = tcp.get("state") == "closed"
    if truth is not None:
        t = truth["tcp"]
        ok(closed == (t["rst_seen"] or (t["fin_seen"] and tcp["fin"] and
                                        tcp.get("state") != "fin_wait1")),
           name + ": tcp.state %s as tshark's flags say" % tcp.get("state"))
        ok(tcp["rst"] == t["rst_seen"], name + ": tcp.rst as tshark")
    if f["reason"] == "timeout" and last is not None:
        # reaped by a timeout: the capture went on at least that long
        gap = last - micros(f["end"])
        limit = (CLOSED_TIMEOUT if closed else NEW_TIMEOUT
                 if f["state"] == "new" else IDLE_TIMEOUT)
        ok(gap >= limit * 10**6,
           name + ": timeout only once its timeout passed")


def micros(ts):
    import datetime
    t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f%z")
    return int(t.timestamp()) * 10**6 + t.microsecond


def anomaly_table():
    with open(os.path.join(ROOT, "schema", "events.schema.json")) as fp:
        rows = json.load(fp)["x-eve"]["anomaly_map"]
    out = {}
    for r in rows:
        for layer in r["layer"].split(", "):
            out[(layer, r["kind"])] = (r["type"], r["event"] or r["kind"])
    return out


def check_anomaly_table(table):
    with open(os.path.join(ROOT, "analyzer", "output", "anomaly_eve.c")) as fp:
        text = fp.read()
    c = re.findall(r'\{ "(\w+)", "(\w+)", "(\w+)",\s*"([\w.]+)" \}', text)
    ok(len(c) > 0 and all(table.get((l, k)) == (t, e) for l, k, t, e in c),
       "anomaly_eve.c's table is the one EVENTS.md lists")


def check_anomaly(name, ev, table):
    a = ev["anomaly"]
    layer = ("tcp" if a.get("type") == "stream" else
             a.get("event", "").split(".")[0] if a.get("type") == "decode"
             else a.get("app_proto"))
    want = table.get((layer, a.get("kind")))
    ok(want == (a.get("type"), a.get("event")),
       name + ": anomaly %s is %s" % (a.get("kind"), want))
    if a.get("type") == "applayer":
        ok(a.get("layer") == "proto_parser", name + ": applayer layer")
    else:
        ok("layer" not in a and a["event"].startswith("stream."),
           name + ": stream events have no layer, stream. names")


# ---- a capture ----

def truth_of(rel):
    base = os.path.join(CORPUS, "truth", rel + ".json")
    if not os.path.exists(base):
        return {}
    with open(base) as fp:
        t = json.load(fp)
    return {(c["client"]["ip"], c["client"]["port"], c["server"]["ip"],
             c["server"]["port"]): c for c in t["connections"]}


def check_capture(path, rel, table, seen):
    events = run(path)
    truth = truth_of(rel)
    stats = [e for e in events if e["event_type"] == "stats"]
    last = micros(stats[-1]["timestamp"]) if stats else None
    for ev in events:
        et = ev["event_type"]
        key = (ev.get("src_ip"), ev.get("src_port"), ev.get("dest_ip"),
               ev.get("dest_port"))
        name = "%s %s:%s" % (rel, key[0], key[1])
        if et == "alert":
            check_alert(name, ev)
        elif et in ("imap", "tls") and "tls" in ev:
            check_tls_event(name, ev, truth.get(key), seen)
        elif et == "flow":
            check_flow(name, ev, truth.get(key), last)
        elif et == "anomaly":
            check_anomaly(name, ev, table)


# ---- the SNI with a NUL byte ----

def sni_nul_capture(path):
    """A TCP handshake and a ClientHello whose SNI holds a NUL, to 993."""
    from scapy.all import IP, TCP, Ether, wrpcap
    name = b"imap.example.test\x00.evil.example"
    sni = (b"\x00\x00" + (len(name) + 5).to_bytes(2, "big") +
           (len(name) + 3).to_bytes(2, "big") + b"\x00" +
           len(name).to_bytes(2, "big") + name)
    body = (b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" +
            b"\x01\x00" + len(sni).to_bytes(2, "big") + sni)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    rec = b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs
    c, s = ("10.99.0.2", 40001), ("10.99.0.1", 993)
    e = Ether()
    pk = [e / IP(src=c[0], dst=s[0]) / TCP(sport=c[1], dport=s[1],
                                            flags="S", seq=100),
          e / IP(src=s[0], dst=c[0]) / TCP(sport=s[1], dport=c[1],
                                            flags="SA", seq=500, ack=101),
          e / IP(src=c[0], dst=s[0]) / TCP(sport=c[1], dport=s[1],
                                            flags="A", seq=101, ack=501),
          e / IP(src=c[0], dst=s[0]) / TCP(sport=c[1], dport=s[1],
                                            flags="PA", seq=101,
                                            ack=501) / rec]
    for i, p in enumerate(pk):
        p.time = 1700000000 + i / 1000
    wrpcap(path, pk)
    return name.decode()


def check_sni_nul():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "sni-nul.pcap")
        try:
            want = sni_nul_capture(path)
        except ImportError:
            print("skip - SNI with a NUL (python3-scapy missing)")
            return
        events = run(path, ["--server-name", "10.99.0.1=imap.example.test"])
    ses = [e for e in events if e["event_type"] == "imap"]
    tls = ses[0]["tls"] if ses else {}
    ok(tls.get("sni") == want, "SNI with a NUL written whole (\\u0000), "
       "not cut as a C string", repr(tls.get("sni")))
    ok(tls.get("name_check", {}).get("name") == want,
       "the name checked is the whole SNI")


def main():
    if not os.access(IMAPWATCH, os.X_OK):
        print("skip - t_eve_suricata: no imapwatch at %s" % IMAPWATCH)
        return 0
    table = anomaly_table()
    check_anomaly_table(table)
    seen = set()
    caps = [(p, os.path.basename(p)) for p in
            sorted(glob.glob(os.path.join(ROOT, "pcaps", "*.pcap")) +
                   glob.glob(os.path.join(ROOT, "pcaps", "edge",
                                          "*.pcap")))]
    manifest = os.path.join(CORPUS, "MANIFEST.tsv")
    if os.path.exists(manifest):
        with open(manifest) as fp:
            for line in fp.read().splitlines()[1:]:
                rel = line.split("\t")[0]
                if rel.endswith((".pcap", ".pcapng", ".cap")):
                    caps.append((os.path.join(CORPUS, rel), rel))
    else:
        print("skip - corpus (no %s)" % manifest)
    before = (passed, failed)
    for path, rel in caps:
        if ONLY in rel:
            check_capture(path, rel, table, seen)
    summary("every event of %d captures as Suricata writes it" % len(caps),
            before)
    print("ok - %d distinct leaf certificates checked against openssl" %
          len(seen) if seen else "not ok - no certificate was checked")
    before = (passed, failed)
    check_sni_nul()
    summary("SNI with a NUL", before)
    print("# %d checks passed, %d failed" % (passed, failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
