#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""TLS on the shared corpus: imapwatch --all-tls against tshark.

For every TCP connection of ../shared/corpus whose truth file
(corpus/truth/*.json, tshark 4.0's view) shows TLS that starts as TLS or
after IMAP STARTTLS, run `$IMAPWATCH --all-tls -r FILE` and compare:
version, cipher, SNI, ALPN, the leaf certificate's names (subject and
issuer field by field, CN, SAN DNS/IP), serial and validity; and JA3/JA3S
with tshark's tls.handshake.ja3_full / ja3s_full, run here.

TLS after SMTP, POP3, FTP or MySQL upgrades is out of scope (skipped).
Where we differ from tshark on purpose, KNOWN says who is right and why.

Environment: IMAPWATCH (binary), IW_SHARED (shared/), PYTHON.
Output: "ok - ...", "not ok - ...", "skip - ..." lines.
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import iwtest  # noqa: E402
from iwtest import CORPUS, IMAPWATCH, ok, skip  # noqa: E402

# Upgrades out of scope: the truth's summary.app for them.
OUT_OF_SCOPE = ("smtp", "pop3", "ftp", "mysql")
OUT_OF_SCOPE_PORTS = {21, 25, 110, 587, 2525, 3306}

# OpenSSL short names for the attribute types python's cryptography writes
# as dotted OIDs or other keywords (truth files use RFC 4514 strings).
ATTR = {
    "1.2.840.113549.1.9.1": "emailAddress", "2.5.4.17": "postalCode",
    "STREET": "street", "2.5.4.5": "serialNumber", "DC": "DC",
    "2.5.4.15": "businessCategory", "1.3.6.1.4.1.311.60.2.1.3":
    "jurisdictionC", "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
    "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL", "2.5.4.4": "SN",
    "2.5.4.42": "GN", "2.5.4.12": "title", "2.5.4.9": "street",
    "UID": "UID", "2.5.4.46": "dnQualifier", "2.5.29.17": "subjectAltName", "2.5.4.65": "pseudonym",
    "2.5.4.43": "initials", "2.5.4.44": "generationQualifier",
    "2.5.4.97": "organizationIdentifier", "1.2.840.113549.1.9.2":
    "unstructuredName", "2.5.4.13": "description",
}

# (file, client port, field): what to expect instead of the truth, and why.
# ("skip", why) skips the check; ("value", v, why) expects v.
KNOWN = {
    # tshark 4.0 (x509ce.dNSName) lists both names too; the truth's python
    # cryptography parse dropped this SAN extension.  We are right.
    ("zeek/tls-early-alert.pcap", 50020, "san_dns"): (
        "value", ["www.jeffbryner.com", "jeffbryner.com"], "tshark agrees"),
    # A ClientHello whose cipher vector is followed by broken vectors:
    # tshark stops the JA3 string at the exception ("769,...,"); the JA3
    # spec always has five fields, empty when absent.  We are right.
    ("ndpi/tls_invalid_reads.pcap", 3967, "ja3"): (
        "value", "769,4-5-10-9-100-98-3-6-19-18-37,,,",
        "JA3 has five fields"),
    # A fuzzer's seed: each of these two streams starts with a 0x00 byte
    # before its ClientHello, so the stream is not TLS from its first byte
    # and the content probe (rightly) does not call it TLS; tshark decodes
    # the second segment on its own.
    ("ndpi/ossfuzz_seed_fake_traces_1.pcapng", 1, "*"): (
        "skip", "the stream starts with a byte that is not TLS"),
}


def known(rel, port, field):
    return KNOWN.get((rel, port, field))


def check(rel, port, field, got, want, what):
    k = known(rel, port, field)
    if k is not None and k[0] == "skip":
        skip(what, k[1])
        return
    if k is not None:
        want = k[1]
        what += " (%s)" % k[2]
    ok(got == want, what)


def split_dn(s):
    """RFC 2253/4514 string -> list of (attr, value), escapes kept simple."""
    out, cur, esc = [], "", False
    for ch in s or "":
        if esc:
            cur += ch
            esc = False
        elif ch == "\\":
            esc = True
        elif ch in ",+":
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    pairs = []
    for p in out:
        k, _, v = p.partition("=")
        k = ATTR.get(k, k)
        pairs.append((k, v))
    return pairs


def run_imapwatch(path):
    rel = os.path.relpath(path, CORPUS)
    r = iwtest.run(["--all-tls", "-r", path], rc=None, what=rel)
    ok(iwtest.sanitizer_report(r.err) is None,
       "%s: no sanitizer report" % os.path.basename(path))
    ok(not r.bad, "%s: every event line is JSON" % rel, r.bad[:1])
    return r.rc, r.events


def tshark_ja3(path, decode_as, damaged=False):
    """{(cport, sport): {"ja3": [...], "ja3s": [...]}} from tshark."""
    cmd = ["tshark", "-n", "-r", path, "-o",
           "tls.desegment_ssl_records:TRUE", "-o",
           "tls.desegment_ssl_application_data:TRUE",
           # the truth files were made without it; zeek/hrr.pcap's real
           # ServerHello arrives out of order and only this shows it
           "-o", "tcp.reassemble_out_of_order:TRUE"]
    for d in decode_as:
        cmd += ["-d", "tcp.port==%d,%s" % (d["port"], d["as"])]
    cmd += ["-Y", "tls.handshake.type==1 || tls.handshake.type==2",
            "-T", "fields", "-E", "occurrence=f", "-E", "separator=|",
            "-e", "tcp.srcport", "-e", "tcp.dstport", "-e",
            "tls.handshake.type", "-e", "tls.handshake.ja3_full", "-e",
            "tls.handshake.ja3s_full"]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "tshark did not run: %s" % e
    err = r.stderr.decode("utf-8", "replace")
    # a damaged capture (the truth file records tshark saying so) makes
    # tshark exit 2 after it has read what it could: that much counts
    if r.returncode != 0 and not (damaged and "damaged or corrupt" in err):
        return "tshark exited %d: %s" % (r.returncode, err.strip()[-200:])
    res = {}
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        f = line.split("|")
        if len(f) < 5 or not f[0]:
            continue
        sp, dp, types = int(f[0]), int(f[1]), f[2].split(",")
        if f[3]:
            # one ClientHello a packet (occurrence=f): ja3_full has commas
            res.setdefault((sp, dp), {}).setdefault("ja3", []).append(f[3])
        if f[4]:
            # ja3s_full contains commas itself: one value per packet here
            res.setdefault((dp, sp), {}).setdefault("ja3s", []).append(
                f[4])
        del types
    return res


def event_for(events, conn):
    c, s = conn["client"], conn["server"]
    for ev in events:
        if ev.get("event_type") not in ("tls", "imap"):
            continue
        if (ev.get("src_ip"), ev.get("src_port"), ev.get("dest_ip"),
                ev.get("dest_port")) == (c["ip"], c["port"], s["ip"],
                                         s["port"]):
            return ev
    return None


def in_scope(conn):
    summ = conn["summary"]
    app = summ.get("app") or ""
    if any(x in app for x in OUT_OF_SCOPE):
        return False
    if conn["server"]["port"] in OUT_OF_SCOPE_PORTS:
        return False
    return bool(conn.get("tls")) and bool(
        conn["tls"].get("client_hellos") or conn["tls"].get("server_hellos"))


def leaf_of(conn):
    for c in conn["tls"].get("certificates") or []:
        if c.get("direction") == "s2c" and c.get("chain"):
            return c["chain"][0]
    return None


# x509-parser's attribute names (Suricata's) as the truth's keywords
SURICATA_ATTR = {"Email": "emailAddress", "surname": "SN",
                 "givenName": "GN", "streetAddress": "street",
                 "uid": "UID", "msJurisdictionCountry": "jurisdictionC",
                 "msJurisdictionStateOrProvince": "jurisdictionST",
                 "msJurisdictionLocality": "jurisdictionL",
                 "OID(2.5.4.97)": "organizationIdentifier"}


def suricata_dn(s):
    """Suricata's "O=x, CN=y" (certificate order) as the truth's pairs."""
    pairs = []
    for part in re.split(r", (?=[A-Za-z0-9().]+=)| \+ ", s or ""):
        k, _, v = part.partition("=")
        k = SURICATA_ATTR.get(k, k)
        m = re.fullmatch(r"OID\(([0-9.]+)\)", k)
        k = m.group(1) if m else k
        pairs.append((ATTR.get(k, k), v))
    return pairs


def ip_text(s):
    """Suricata's "[10, 77, 0, 1]" as an address, or None."""
    import ipaddress
    m = re.fullmatch(r"\[([0-9, ]*)\]", s)
    if not m:
        return None
    b = bytes(int(x) for x in m.group(1).split(", "))
    return str(ipaddress.ip_address(b)) if len(b) in (4, 16) else None


def compare_cert(rel, port, name, truth_leaf, tls):
    if "subject" not in tls:
        ok(False, name + " certificate seen")
        return
    # the truth is RFC 4514 (last RDN first): reversed, certificate order
    ok(suricata_dn(tls.get("subject")) ==
       list(reversed(split_dn(truth_leaf["subject"]))),
       name + " subject %r" % truth_leaf["subject"])
    ok(suricata_dn(tls.get("issuerdn")) ==
       list(reversed(split_dn(truth_leaf["issuer"]))),
       name + " issuer %r" % truth_leaf["issuer"])
    cns = [v for k, v in suricata_dn(tls.get("subject")) if k == "CN"]
    ok(cns == truth_leaf["subject_cn"], name + " subject CN")
    sans = tls.get("subjectaltname") or []
    ips = [ip_text(x) for x in sans if ip_text(x) is not None]
    dns = [x for x in sans if ip_text(x) is None and "(" not in x and
           ":" not in x]
    check(rel, port, "san_dns", dns, truth_leaf["san_dns"][:500],
          name + " SAN dNSName")
    ok(ips == truth_leaf["san_ip"], name + " SAN iPAddress")
    # Suricata writes certificate dates without the zone
    ok(tls.get("notafter") == truth_leaf["not_after"].rstrip("Z"),
       name + " notafter")
    ok(tls.get("notbefore") == truth_leaf["not_before"].rstrip("Z"),
       name + " notbefore")
    serial = int(truth_leaf["serial"], 16)
    ours = int((tls.get("serial") or "0").replace(":", ""), 16)
    ok(ours == serial, name + " serial")


def suricata_version(v):
    """tshark's version name as Suricata's (rust/src/tls_version.rs)."""
    names = {"SSL 2.0": "SSLv2", "SSL 3.0": "SSLv3", "TLS 1.0": "TLSv1"}
    m = re.fullmatch(r"TLS 1\.3 \((Facebook )?draft ([0-9]+)\)", v)
    if m:
        return "TLS 1.3 draft-%s%s" % (m.group(2),
                                       "-fb" if m.group(1) else "")
    return names.get(v, v)


def compare_conn(rel, conn, ev, ja3):
    c = conn["client"]
    name = "%s %s:%d" % (rel, c["ip"], c["port"])
    summ = conn["summary"]
    k = known(rel, c["port"], "*")
    if k is not None:
        skip(name, k[1])
        return
    tls = (ev or {}).get("tls")
    if tls is None:
        if "imap+starttls" in (summ.get("app") or ""):
            skip(name, "no tls object: STARTTLS hand-off is the IMAP "
                 "dissector's")
        else:
            ok(False, name + " has a tls event")
        return
    if summ.get("tls_version"):
        ok(tls.get("version") == suricata_version(summ["tls_version"]),
           name + " version %s" % summ["tls_version"])
    if summ.get("tls_cipher_suite"):
        ok(tls.get("cipher") == summ["tls_cipher_suite"],
           name + " cipher %s" % summ["tls_cipher_suite"])
    chs = conn["tls"].get("client_hellos") or []
    if chs:
        sni = (chs[0].get("sni") or [None])[0]
        ok(tls.get("sni") == sni, name + " sni %s" % sni)
        alpn = [a for a in chs[0].get("alpn") or [] if a]
        ok((tls.get("client_alpns") or []) == alpn,
           name + " alpn offered %s" % alpn)
    shs = [s for s in conn["tls"].get("server_hellos") or []
           if not s.get("hello_retry_request")]
    if shs and shs[-1].get("alpn"):
        ok((tls.get("server_alpns") or [None])[0] == shs[-1]["alpn"][0],
           name + " alpn selected")
    leaf = leaf_of(conn)
    if leaf is not None and leaf.get("subject") is not None:
        compare_cert(rel, c["port"], name, leaf, tls)
    compare_ja3(rel, name, conn, tls, ja3)


def compare_ja3(rel, name, conn, tls, ja3):
    if isinstance(ja3, str):
        # the independent view is missing: the check fails, never skips
        ok(False, name + " ja3 and ja3s against tshark's", ja3)
        return
    key = (conn["client"]["port"], conn["server"]["port"])
    want = ja3.get(key, {})
    if want.get("ja3"):
        ours = (tls.get("ja3") or {}).get("string")
        # tshark gives one per ClientHello; we describe the first
        check(rel, key[0], "ja3", ours, want["ja3"][0],
              name + " ja3 equals tshark's")
    if want.get("ja3s"):
        ours = (tls.get("ja3s") or {}).get("string")
        # after a HelloRetryRequest we keep the last ServerHello's
        ok(ours in want["ja3s"], name + " ja3s equals tshark's")


def main():
    if not iwtest.need_corpus("TLS sessions against tshark"):
        return 0
    if not ok(os.access(IMAPWATCH, os.X_OK), "%s is built" % IMAPWATCH):
        return 1
    truth_dir = os.path.join(CORPUS, "truth")
    for root, _, files in sorted(os.walk(truth_dir)):
        for fn in sorted(files):
            truth = json.load(open(os.path.join(root, fn)))
            rel = truth["file"]
            conns = [c for c in truth["connections"] if in_scope(c)]
            if not conns:
                continue
            path = os.path.join(CORPUS, rel)
            rc, events = run_imapwatch(path)
            ok(rc == 0, "%s: imapwatch exits 0" % rel)
            ja3 = tshark_ja3(path, truth.get("decode_as") or [],
                             "damaged or corrupt" in
                             (truth.get("tshark_stderr") or ""))
            for conn in conns:
                compare_conn(rel, conn, event_for(events, conn), ja3)
    c = iwtest.counts
    iwtest.note("%d passed, %d failed, %d skipped" % (c["ok"], c["not ok"],
                                                      c["skip"]))
    return iwtest.exit_status()


if __name__ == "__main__":
    sys.exit(main())
