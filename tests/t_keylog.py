#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""imapwatch --keylog on the captures with key logs (pcaps/keylog/).

Each pcaps/keylog/NAME.json was made by tests/captures/keylog.py from
real dovecot (or s_server) sessions of curl, openssl s_client and Python
imaplib, which wrote the key log beside the capture and their own
transcript (NAME.clients.log).  For every capture and session:

  - TLS 1.3 with its keys: tls.certificate_status is "decrypted", the
    leaf and chain (tls.certificate, tls.chain) are the DER tshark finds
    in the decrypted Certificate message (tshark -o tls.keylog_file), and
    subject, issuer, SANs, dates, serial and fingerprints are what
    `openssl x509` reads in that DER; the name check is what
    `openssl x509 -checkhost` said of the file dovecot was given;
  - the same certificates over TLS 1.2 (pcaps/dovecot-cert-*.pcap) get the
    same name check and the same certificate findings as over TLS 1.3
    with keys;
  - a resumed TLS 1.3 session says "resumed";
  - the IMAP inside TLS (imap.inside_tls) has the commands, by name, that
    the client's own log shows it sent inside TLS, and its logins with the
    user and the status the client's log shows;
  - client_accepted_bad_certificate is raised exactly for the sessions
    whose certificate fails a definite check (openssl: -checkhost, dates
    at the session's time, self-signed) and whose client went on (its
    exit status and messages, in the .json), without keys for TLS 1.2,
    with keys for TLS 1.3, and never for TLS 1.3 without keys;
  - a session whose keys were removed from the log is not decrypted and
    raises nothing; one whose keys were altered gives the
    decryption_failed anomaly, and no IMAP is read from it;
  - without --keylog, TLS 1.3 certificates stay "encrypted" and no stats
    "decryption" object appears;
  - bad key log lines are reported by line number, never echoed; a key
    log other users can read is reported once;
  - no byte of any secret of the key logs (hex, either case, or base64)
    and no password appears in anything imapwatch writes.
"""

import base64
import collections
import glob
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import iwtest  # noqa: E402
from iwtest import ok  # noqa: E402
import t_eve_suricata as eve  # noqa: E402  (openssl's readings of a DER)

KEYDIR = os.path.join(ROOT, "pcaps", "keylog")
CA = os.path.join(ROOT, "tests", "captures", "certs", "ca.pem")
IMAP_PORTS = (143, 993)
CERT_FINDINGS = {"cert_name_mismatch", "cert_expired", "cert_not_yet_valid",
                 "cert_self_signed", "cert_untrusted", "weak_key",
                 "weak_signature"}
BAD = "client_accepted_bad_certificate"
DEFLATED = re.compile(r"^C\(deflate\): b'\S+ (\w+)", re.M)
COMPRESSED = "keylog-tls13-compress-imaplib-starttls"


# ---- imapwatch ----

class Run:
    """One imapwatch run: its events, by the client's port."""

    def __init__(self, pcap, extra, tmp):
        self.res = iwtest.run(["-r", pcap] + list(extra))
        self.text = self.res.stdout + self.res.err
        self.events = self.res.events
        self.session = {}
        self.alerts = collections.defaultdict(set)
        self.anomalies = collections.defaultdict(set)
        self.stats = None
        for e in self.events:
            port = client_port(e)
            t = e["event_type"]
            if t in ("imap", "tls"):
                self.session[port] = e
            elif t == "alert":
                self.alerts[port].add(e["alert"]["signature"])
            elif t == "anomaly":
                self.anomalies[port].add(e["anomaly"].get("kind"))
            elif t == "stats":
                self.stats = e["stats"]


def client_port(e):
    if e.get("dest_port") in IMAP_PORTS:
        return e.get("src_port")
    return e.get("dest_port")


# ---- tshark and openssl ----

def tshark_certs(pcap, keylog):
    """{client port: [DER, ...]}: the server Certificate messages tshark
    decrypts with the key log."""
    r = subprocess.run(["tshark", "-r", pcap, "-o",
                        "tls.keylog_file:" + keylog, "-Y",
                        "tls.handshake.type == 11", "-T", "fields",
                        "-e", "tcp.srcport", "-e", "tcp.dstport",
                        "-e", "tls.handshake.certificate"],
                       capture_output=True, text=True, timeout=300)
    out = {}
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 3 or not f[2] or int(f[0]) not in IMAP_PORTS:
            continue
        out.setdefault(int(f[1]), [bytes.fromhex(h.replace(":", ""))
                                   for h in f[2].split(",")])
    return out


def pem_file(der, tmp):
    path = os.path.join(tmp, "c.der")
    with open(path, "wb") as fp:
        fp.write(der)
    pem = os.path.join(tmp, "c.pem")
    subprocess.run(["openssl", "x509", "-inform", "DER", "-in", path,
                    "-out", pem], check=True, capture_output=True)
    return pem


def openssl_bad(der, when, name, tmp):
    """Which definite checks openssl says the leaf fails at time when
    (seconds), for the name the client expected."""
    bad = set()
    pem = pem_file(der, tmp)
    r = subprocess.run(["openssl", "x509", "-in", pem, "-noout",
                        "-checkhost", name], capture_output=True, text=True)
    if "does NOT match" in r.stdout:
        bad.add("mismatch")
    r = subprocess.run(["openssl", "verify", "-no_check_time", "-CAfile",
                        pem, pem], capture_output=True, text=True)
    if r.returncode == 0:
        bad.add("self-signed")
    for which, sign in (("startdate", -1), ("enddate", 1)):
        r = subprocess.run(["openssl", "x509", "-in", pem, "-noout",
                            "-" + which, "-dateopt", "iso_8601"],
                           capture_output=True, text=True)
        v = r.stdout.strip().split("=", 1)[1]
        import datetime
        t = datetime.datetime.strptime(v, "%Y-%m-%d %H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        if (sign < 0 and when < t) or (sign > 0 and when > t):
            bad.add(which)
    return bad


def event_seconds(e):
    import datetime
    return datetime.datetime.strptime(
        e["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def check_leaf(name, tls, ders):
    """Our certificate fields against tshark's DER and openssl's reading
    of it."""
    ok(tls.get("certificate_status") == "decrypted",
       name + ": certificate_status decrypted", tls.get(
           "certificate_status"))
    chain = [base64.b64decode(c) for c in tls.get("chain") or []]
    ok(chain == ders, name + ": tls.chain is the DER tshark decrypted "
       "(%d certificates)" % len(ders))
    if not ders:
        return
    der = ders[0]
    ok(tls.get("certificate") and base64.b64decode(tls["certificate"]) ==
       der, name + ": tls.certificate is tshark's leaf")
    for k, which in (("subject", "subject"), ("issuerdn", "issuer")):
        want = eve.ossl_dn(der, which)
        ok(tls.get(k) == want, name + ": %s as openssl reads the DER" % k,
           "%r, openssl %r" % (tls.get(k), want))
    sans = eve.ossl_sans(der)
    if sans is not None:
        ok((tls.get("subjectaltname") or []) == sans,
           name + ": subjectaltname as openssl", "%r, openssl %r" % (
               tls.get("subjectaltname"), sans))
    for k, which in (("notbefore", "startdate"), ("notafter", "enddate")):
        want = eve.ossl_date(der, which)
        ok(tls.get(k) == want, name + ": " + k, "%r, openssl %r" % (
            tls.get(k), want))
    ok(tls.get("serial") == eve.ossl_serial(der), name + ": serial")
    rc, fp = eve.openssl(der, "-fingerprint", "-sha1")
    ok(rc == 0 and fp.strip().split("=", 1)[1].lower() ==
       tls.get("fingerprint"), name + ": fingerprint (SHA-1) as openssl")


# ---- the clients' logs ----

SECTION = re.compile(r"^==== (\S+)$", re.M)
S_CLIENT_CMD = re.compile(r"(?:'|\\n)([A-Za-z]+[0-9]+) ([A-Za-z]+)")
LOG_CMD = re.compile(r"^(?:> |\s*[0-9:.]+ > b')([A-Za-z0-9]+) ([A-Za-z]+)",
                     re.M)
LOG_TAGGED = re.compile(r"^(?:< |\s*[0-9:.]+ < b'|)([A-Za-z0-9]+) "
                        r"(OK|NO|BAD)\b", re.M)


def client_sections(path):
    with open(path, encoding="utf-8", errors="replace") as fp:
        text = fp.read()
    parts = SECTION.split(text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def inside_commands(text):
    """[(tag, NAME)] the client sent inside TLS, by its own log."""
    first = text.split("\n", 2)[1] if "\n" in text else text
    if "openssl s_client" in first:
        # the commands are the ones s_client was fed; -starttls does
        # its cleartext part itself
        return [(t, c.upper()) for t, c in S_CLIENT_CMD.findall(first)]
    cmds = [(t, c.upper()) for t, c in LOG_CMD.findall(text)]
    for i, (t, c) in enumerate(cmds):
        if c == "STARTTLS":
            return cmds[i + 1:]
    return cmds


def tagged(text):
    return {t: s for t, s in LOG_TAGGED.findall(text)}


def tshark_commands(pcap, keylog):
    """{client port: Counter of command names}: the IMAP requests tshark
    reads in the application data it decrypts with the key log."""
    r = subprocess.run(["tshark", "-r", pcap, "-o",
                        "tls.keylog_file:" + keylog, "-Y",
                        "imap.isrequest == 1 && tls.record.content_type == 23",
                        "-T", "fields", "-e", "tcp.srcport",
                        "-e", "imap.request.command"],
                       capture_output=True, text=True, timeout=300)
    out = collections.defaultdict(collections.Counter)
    for line in r.stdout.splitlines():
        port, _, cmds = line.partition("\t")
        for c in cmds.split(","):
            if re.fullmatch(r"[A-Za-z]+", c):
                out[int(port)][c.upper()] += 1
    return out


def check_inner(name, ev, text, refused, decrypted, wire, refused_early):
    """imap.inside_tls against tshark's decrypted IMAP and the client's
    own log."""
    want = [] if refused else inside_commands(text)
    inner = (ev.get("imap") or {}).get("inside_tls")
    if not decrypted:
        ok(inner is None, name + ": no IMAP read from a session not "
           "decrypted")
        return
    if not want and not wire:
        ok(inner is None or inner["commands"]["total"] == 0,
           name + ": no command inside TLS, as the client's log")
        return
    if not ok(inner is not None and inner.get("decrypted") is True,
              name + ": imap.inside_tls decrypted"):
        return
    by = inner["commands"]["by_name"]
    # tshark does not inflate COMPRESS=DEFLATE: what followed it is the
    # client's own log of what it deflated
    deflated = collections.Counter(c.upper() for c in DEFLATED.findall(text))
    ok(by == dict(wire - refused_early + deflated) and
       inner.get("compressed", False) == bool(deflated),
       name + ": commands inside TLS by name as tshark decrypts them%s" % (
           " and the client deflated after COMPRESS" if deflated else ""),
       "%r, tshark %r, deflated %r" % (by, dict(wire), dict(deflated)))
    logged = collections.Counter(c for _, c in want)
    ok(all(by.get(c, 0) >= n for c, n in logged.items()),
       name + ": every command of the client's log inside TLS is there",
       "%r, log %r" % (by, dict(logged)))
    status = tagged(text)
    logins = [(c, status.get(t)) for t, c in want
              if c in ("LOGIN", "AUTHENTICATE")]
    got = [(a.get("command"), a.get("status")) for a in inner["auth"]]
    ok(got == logins, name + ": logins inside TLS and their status as the "
       "client's log", "%r, log %r" % (got, logins))
    ok(all(a.get("username") == "alice" and a.get("encrypted") is True
           for a in inner["auth"]), name + ": user alice, encrypted")
    if "CAPABILITY" in logged:
        ok("capabilities" in inner, name + ": the capabilities the "
           "server announced inside TLS")
    ok(inner.get("capability_requested") == ("CAPABILITY" in by),
       name + ": capability_requested")


def refused_early(base, s):
    """0-RTT data the server refused: tshark decrypts it all the same
    (it has the early secret), but the server never read it, and we skip
    it (the command tests/captures/keylog.py sends as early data)."""
    if "early-data-rejected" in base and s["client_label"].endswith("2"):
        return collections.Counter({"CAPABILITY": 1})
    return collections.Counter()


# ---- secrets ----

def secret_forms(keylog):
    forms = set()
    with open(keylog) as fp:
        for line in fp:
            f = line.split()
            if len(f) != 3 or line.startswith("#"):
                continue
            raw = bytes.fromhex(f[2])
            forms |= {f[2].lower(), f[2].upper(),
                      base64.b64encode(raw).decode().rstrip("=")}
    return forms


def check_secrets(name, text, keylog, passwords):
    forms = secret_forms(keylog)
    found = [s for s in forms if s in text]
    ok(not found and forms, name + ": none of the key log's %d secret "
       "forms appears" % len(forms), "found %d" % len(found))
    iwtest.check_no_password(text, passwords, name)


# ---- one capture ----

def private_copy(keylog, tmp):
    """The key log as its owner alone may read it (the repository's are
    0644; the warning is checked once, on its own)."""
    path = os.path.join(tmp, os.path.basename(keylog))
    shutil.copyfile(keylog, path)
    os.chmod(path, 0o600)
    return path


def expected_bad(name, s, ev, leaf, tls13, keys, tmp):
    """Should client_accepted_bad_certificate be raised for session s?"""
    if s.get("client_verify") != "accepted" or leaf is None:
        return False
    if tls13 and keys != "logged":
        return False
    cert = s.get("certificate") or {}
    bad = openssl_bad(leaf, event_seconds(ev), cert.get(
        "sni", "imap.example.test"), tmp)
    return bool(bad)


def check_capture(jpath, tmp, summary):
    with open(jpath) as fp:
        truth = json.load(fp)
    pcap = os.path.join(KEYDIR, truth["capture"])
    keylog = private_copy(os.path.join(KEYDIR, truth["keylog"]), tmp)
    base = truth["capture"][:-5]
    tls13 = "tls13" in base
    sections = client_sections(os.path.join(KEYDIR, base + ".clients.log"))
    run = Run(pcap, ["--keylog", keylog], tmp)
    plain = Run(pcap, [], tmp)
    ok(run.res.err == "", base + ": nothing on stderr with a private key "
       "log", run.res.err.strip()[:200])
    certs = tshark_certs(pcap, keylog)
    wire = tshark_commands(pcap, keylog)
    for s in truth["sessions"]:
        port = s["client_port"]
        name = "%s %s" % (base, s.get("client_label"))
        ev = run.session.get(port)
        if not ok(ev is not None, name + ": a session event"):
            continue
        tls = ev.get("tls") or {}
        keys = s.get("keys")
        decrypt = keys == "logged" and s.get("decrypt", True)
        ders = certs.get(port)
        leaf = ders[0] if ders else None
        if tls13 and decrypt and ders:
            check_leaf(name, tls, ders)
            nc = (s.get("certificate") or {}).get("name_check")
            if nc is not None:
                ok(tls["name_check"]["result"] == nc, name + ": name "
                   "check as openssl -checkhost", "%r, openssl %r" % (
                       tls["name_check"]["result"], nc))
        elif tls13 and decrypt and s.get("client_verify") != "refused":
            # tshark decrypted no Certificate: a resumed session
            ok(tls.get("certificate_status") == "resumed",
               name + ": a resumed session says resumed",
               tls.get("certificate_status"))
        elif tls13:
            ok(tls.get("certificate_status") == "encrypted",
               name + ": without its keys the certificate stays "
               "encrypted", tls.get("certificate_status"))
        if not tls13 and "certificate" in tls:
            leaf = base64.b64decode(tls["certificate"])
        decrypted = decrypt and s.get("expect_state", "decrypting") == \
            "decrypting"
        if keys == "altered":
            ok("decryption_failed" in run.anomalies[port],
               name + ": wrong keys give decryption_failed")
            decrypted = False
        else:
            ok("decryption_failed" not in run.anomalies[port],
               name + ": no decryption_failed")
        if s.get("client_label") in sections:
            check_inner(name, ev, sections[s["client_label"]],
                        s.get("client_verify") == "refused", decrypted,
                        wire.get(port, collections.Counter()),
                        refused_early(base, s))
        want = expected_bad(name, s, ev, leaf, tls13, keys, tmp)
        ok((BAD in run.alerts[port]) == want, name + ": %s %s" % (
            BAD, "raised" if want else "not raised"))
        summary[want] += 1
        pev = plain.session.get(port) or {}
        ok((BAD in plain.alerts[port]) == (want and not tls13),
           name + ": without --keylog %s %s" % (
               BAD, "raised" if want and not tls13 else "not raised"))
        if tls13:
            ok((pev.get("tls") or {}).get("certificate_status") in
               ("encrypted", "resumed", "absent"),
               name + ": without --keylog the certificate is not seen")
        ok("inside_tls" not in (pev.get("imap") or {}),
           name + ": without --keylog nothing inside TLS is read")
    ok(run.stats is not None and "decryption" in
       run.stats["sessions"], base + ": stats.sessions.decryption")
    ok(plain.stats is not None and "decryption" not in
       plain.stats["sessions"], base + ": no decryption stats without "
       "--keylog")
    if run.stats is not None and "decryption" in run.stats["sessions"]:
        d = run.stats["sessions"]["decryption"]
        ok(d["records_auth_failed"] >= sum(
            1 for s in truth["sessions"] if s.get("keys") == "altered"),
           base + ": records_auth_failed counts the altered keys")
        ok(d["sessions_decrypted"] >= 1, base + ": sessions_decrypted")
    check_secrets(base, run.text + plain.text, keylog, truth["passwords"])
    return run


# ---- TLS 1.2 and TLS 1.3 with keys: the same verdicts ----

def verdicts(run):
    out = set()
    result = set()
    for port, ev in run.session.items():
        nc = (ev.get("tls") or {}).get("name_check", {}).get("result")
        if nc is not None and nc != "unchecked":
            result.add(nc)
        out |= run.alerts[port] & CERT_FINDINGS
    return result, out


def check_same_as_tls12(tmp):
    n = 0
    for j in sorted(glob.glob(os.path.join(KEYDIR,
                                           "keylog-tls13-cert-*.json"))):
        kind = os.path.basename(j)[len("keylog-tls13-cert-"):-5]
        old = os.path.join(ROOT, "pcaps", "dovecot-cert-%s.pcap" % kind
                           if kind != "good" else
                           "dovecot-imaps-tls12-sni-match.pcap")
        if not ok(os.path.exists(old), "%s is there for "
                  "keylog-tls13-cert-%s" % (os.path.basename(old), kind)):
            continue
        with open(j) as fp:
            truth = json.load(fp)
        keylog = private_copy(os.path.join(KEYDIR, truth["keylog"]), tmp)
        extra = ["--ca-file", CA] if kind == "untrusted" else []
        a = verdicts(Run(old, extra, tmp))
        r13 = Run(os.path.join(KEYDIR, truth["capture"]),
                  extra + ["--keylog", keylog], tmp)
        b = verdicts(r13)
        if extra:
            # the chain does not reach the CA (openssl verify says so) and
            # s_client went on: with --ca-file that is a bad certificate
            v = subprocess.run(["openssl", "verify", "-CAfile", CA,
                                "-untrusted", os.path.join(
                                    ROOT, "tests", "captures", "certs",
                                    "rogue.pem"), os.path.join(
                                    ROOT, "tests", "captures", "certs",
                                    "rogueleaf.pem")],
                               capture_output=True, text=True)
            ok(v.returncode != 0 and all(
                BAD in r13.alerts[s["client_port"]] for s in
                truth["sessions"] if s.get("client_verify") ==
                "accepted"), "%s: with --ca-file the client that went on "
               "is named (openssl: %s)" % (kind, (v.stdout + v.stderr).strip(
                   ).splitlines()[-1][-60:]))
        ok(a == b and a[0], "%s: TLS 1.3 with keys gives the TLS 1.2 name "
           "check and certificate findings" % kind, "%r, TLS 1.2 %r" % (
               b, a))
        n += 1
    ok(n >= 12, "%d certificate kinds compared over TLS 1.2 and 1.3" % n)


# ---- the key log file ----

def check_keylog_file(tmp):
    pcap = os.path.join(KEYDIR, "keylog-tls13-cert-good.pcap")
    secret = "ab" * 48
    path = os.path.join(tmp, "bad.keylog")
    with open(path, "w") as fp:
        fp.write("# a comment\n\nCLIENT_RANDOM zz %s\n" % secret)
        fp.write("SERVER_TRAFFIC_SECRET_0 %s %s\n" % ("cd" * 32,
                                                      secret[:10]))
        fp.write("EXPORTER_SECRET %s %s\n" % ("ef" * 32, secret))
    os.chmod(path, 0o600)
    r = iwtest.run(["-r", pcap, "--keylog", path])
    err = r.err
    ok(re.search(r"bad\.keylog:3: bad key log line", err) and
       re.search(r"bad\.keylog:4: bad key log line", err),
       "bad key log lines are reported by line number", err.strip())
    ok(":5:" not in err and ":1:" not in err,
       "comments and other labels are not bad lines")
    ok(secret[:10] not in err and "cd" * 32 not in r.stdout + err,
       "a bad line is never echoed")
    os.chmod(path, 0o644)
    r = iwtest.run(["-r", pcap, "--keylog", path, "--keylog", path])
    ok(err.count("readable") == 0 and
       r.err.count("readable by every user") == 1,
       "a key log other users can read: one warning", r.err.strip())
    r = iwtest.run(["-r", pcap, "--keylog", os.path.join(tmp, "none")],
                   rc=(0, 1))
    ok(r.rc == 0 or "none" in r.err, "a missing key log is named",
       r.err.strip())
    conf = os.path.join(tmp, "iw.conf")
    good = private_copy(os.path.join(KEYDIR, "keylog-tls13-cert-good."
                                     "keylog"), tmp)
    with open(conf, "w") as fp:
        fp.write("keylog = %s\n" % good)
    r = iwtest.run(["-r", pcap, "--config", conf])
    statuses = [json.loads(x).get("tls", {}).get("certificate_status")
                for x in r.lines]
    ok("decrypted" in statuses, "keylog in --config decrypts")


def check_compress_limits(tmp):
    """COMPRESS inside TLS: the bomb caps apply there too."""
    base = os.path.join(KEYDIR, COMPRESSED)
    keylog = private_copy(base + ".keylog", tmp)
    with open(base + ".clients.log") as fp:
        ok("COMPRESS: OK" in fp.read(), COMPRESSED + ": the client's log "
           "says dovecot began compression")
    r = Run(base + ".pcap", ["--keylog", keylog, "--inflate-max", "100"],
            tmp)
    port = [p for p in r.session][0]
    inner = r.session[port]["imap"]["inside_tls"]
    ok("imap_inflate_limit" in r.anomalies[port] and
       inner.get("compressed") is True and inner["state"] != "logout",
       COMPRESSED + ": --inflate-max 100 stops inflating inside TLS, "
       "with the anomaly", "%r %r" % (r.anomalies[port], inner["state"]))
    r = Run(base + ".pcap", [], tmp)
    ev = r.session[port]["imap"]
    ok("inside_tls" not in ev and ev.get("compressed") is False,
       COMPRESSED + ": without --keylog nothing is said of COMPRESS")


def main():
    tmp = tempfile.mkdtemp(prefix="iw-keylog-")
    try:
        summary = collections.Counter()
        files = sorted(glob.glob(os.path.join(KEYDIR, "*.json")))
        ok(len(files) >= 30, "%d captures with key logs" % len(files))
        for j in files:
            check_capture(j, tmp, summary)
        ok(summary[True] >= 10 and summary[False] >= 20,
           "%s expected raised %d times, not raised %d times" % (
               BAD, summary[True], summary[False]))
        check_same_as_tls12(tmp)
        check_keylog_file(tmp)
        check_compress_limits(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return iwtest.exit_status()


if __name__ == "__main__":
    sys.exit(main())
