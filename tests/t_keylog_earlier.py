#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""tls.name_check_earlier: without keys, a TLS 1.3 session whose server
address:port and SNI showed a certificate in an earlier TLS 1.2 session
gets that session's name check and the packet time it was seen.

The pairs are real dovecot captures of the same server (10.77.0.1:993,
SNI imap.example.test): a TLS 1.2 session (pcaps/dovecot-*.pcap, the
certificate in clear) and a TLS 1.3 one (pcaps/keylog/, its key log
beside it), read together (-r twice: merged by packet time).  For each:

  - the hint's result is what `openssl x509 -checkhost` says of the leaf
    tshark finds in the TLS 1.2 capture for the SNI tshark reads in its
    ClientHello, and is the TLS 1.2 session's own name_check; its time
    is the packet time of the frame tshark shows the Certificate in;
  - the TLS 1.3 session's name_check still says "encrypted", and it has
    exactly the alerts it has when read alone (no alert from the hint);
  - read alone, or with the TLS 1.2 session moved after it (editcap -t),
    or on another port, it has no hint;
  - with its keys (--keylog) the certificate is checked: no hint;
  - one worker and four give the same events;
  - with --state in a real redis-server, the TLS 1.2 capture read by one
    imapwatch process and the TLS 1.3 one by the next still gives the
    hint (the correlator's memory keeps the check and its time).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "sinks"))
import iwtest  # noqa: E402
from iwtest import ok  # noqa: E402

PCAPS = os.path.join(ROOT, "pcaps")
KEYDIR = os.path.join(PCAPS, "keylog")
PAIRS = [("dovecot-cert-mismatch.pcap", "keylog-tls13-cert-mismatch"),
         ("dovecot-imaps-tls12-sni-match.pcap", "keylog-tls13-cert-good")]
IMAP_PORTS = (143, 993)


def tshark(pcap, filt, *fields):
    r = subprocess.run(["tshark", "-r", pcap, "-Y", filt, "-T", "fields"] +
                       [a for f in fields for a in ("-e", f)],
                       capture_output=True, text=True, timeout=300)
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def eve_time(epoch):
    """tshark's frame.time_epoch as EVE writes a timestamp."""
    sec, frac = epoch.split(".")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(sec))) + \
        ".%s+0000" % (frac + "000000")[:6]


def truth(pcap, tmp):
    """What tshark and openssl say of the TLS 1.2 capture's certificate:
    (result, time seen, sni)."""
    sni = tshark(pcap, "tls.handshake.type == 1",
                 "tls.handshake.extensions_server_name")[0][0]
    time_, certs = tshark(pcap, "tls.handshake.type == 11",
                          "frame.time_epoch", "tls.handshake.certificate")[0]
    der = os.path.join(tmp, "leaf.der")
    with open(der, "wb") as fp:
        fp.write(bytes.fromhex(certs.split(",")[0].replace(":", "")))
    r = subprocess.run(["openssl", "x509", "-inform", "DER", "-in", der,
                        "-noout", "-checkhost", sni],
                       capture_output=True, text=True)
    if "does NOT match" in r.stdout:
        result = "mismatch"
    elif "does match" in r.stdout:
        result = "match"
    else:
        result = None
    return result, eve_time(time_), sni


class Run:
    def __init__(self, files, *extra):
        args = []
        for f in files:
            args += ["-r", f]
        self.res = iwtest.run(args + list(extra))
        self.events = self.res.events
        self.session = {}
        self.alerts = {}
        for e in self.events:
            port = (e.get("src_port") if e.get("dest_port") in IMAP_PORTS
                    else e.get("dest_port"))
            if e["event_type"] in ("imap", "tls"):
                self.session[(port, e["tls"].get("version"))] = e
            elif e["event_type"] == "alert":
                self.alerts.setdefault(port, set()).add(
                    e["alert"]["signature"])

    def tls(self, version):
        got = [e["tls"] for (p, v), e in self.session.items()
               if v == version]
        return got[0] if len(got) == 1 else None

    def port(self, version):
        return [p for (p, v) in self.session if v == version][0]

    def comparable(self):
        return sorted(json.dumps(e, sort_keys=True) for e in self.events
                      if e["event_type"] != "stats")


def check_pair(old, new, tmp):
    p12 = os.path.join(PCAPS, old)
    p13 = os.path.join(KEYDIR, new + ".pcap")
    keylog = os.path.join(tmp, "k.keylog")
    shutil.copy(os.path.join(KEYDIR, new + ".keylog"), keylog)
    os.chmod(keylog, 0o600)
    result, seen, sni = truth(p12, tmp)
    ok(result is not None, "%s: openssl checks the leaf for %s" % (old, sni))

    both = Run([p12, p13])
    t12, t13 = both.tls("TLS 1.2"), both.tls("TLS 1.3")
    if not ok(t12 is not None and t13 is not None,
              "%s + %s: one TLS 1.2 and one TLS 1.3 session" % (old, new)):
        return
    ok(t12["name_check"]["result"] == result and "name_check_earlier"
       not in t12, "%s: TLS 1.2 name check is openssl's (%s), no hint" %
       (old, result), repr(t12["name_check"]))
    want = {"result": result, "seen": seen}
    ok(t13.get("name_check_earlier") == want,
       "%s after %s: name_check_earlier is %s seen %s" % (new, old, result,
                                                            seen),
       repr(t13.get("name_check_earlier")))
    ok(t13["sni"] == sni and t13["name_check"]["result"] == "encrypted" and
       t13.get("certificate_status") == "encrypted",
       "%s: name_check stays encrypted" % new, repr(t13["name_check"]))

    alone = Run([p13])
    a13 = alone.tls("TLS 1.3")
    ok(a13 is not None and "name_check_earlier" not in a13,
       "%s alone: no hint" % new)
    ok(both.alerts.get(both.port("TLS 1.3"), set()) ==
       alone.alerts.get(alone.port("TLS 1.3"), set()),
       "%s: the hint raises no alert" % new, "%r vs %r" % (
           both.alerts.get(both.port("TLS 1.3")),
           alone.alerts.get(alone.port("TLS 1.3"))))

    four = Run([p12, p13], "--workers", "4")
    ok(four.comparable() == both.comparable(),
       "%s + %s: --workers 4 writes what one worker writes" % (old, new))

    keyed = Run([p12, p13], "--keylog", keylog)
    k13 = keyed.tls("TLS 1.3")
    ok(k13 is not None and k13["name_check"]["result"] == result and
       k13.get("certificate_status") == "decrypted" and
       "name_check_earlier" not in k13,
       "%s with its keys: checked itself (%s), no hint" % (new, result),
       repr(k13 and k13["name_check"]))

    # the TLS 1.2 session moved a day after the TLS 1.3 one
    t0 = float(tshark(p13, "frame.number == 1", "frame.time_epoch")[0][0])
    t1 = float(tshark(p12, "frame.number == 1", "frame.time_epoch")[0][0])
    later = os.path.join(tmp, "later.pcap")
    subprocess.run(["editcap", "-t", "%.6f" % (t0 - t1 + 86400), p12,
                    later], check=True, capture_output=True)
    moved = Run([later, p13])
    m13 = moved.tls("TLS 1.3")
    ok(m13 is not None and "name_check_earlier" not in m13 and
       moved.tls("TLS 1.2") is not None,
       "%s before %s (moved later): no hint from a later session" % (
           new, old))
    return p12, p13, want


def other_port(p12, p13, tmp):
    """The TLS 1.2 session on port 9993: another server, no hint."""
    moved = os.path.join(tmp, "port.pcap")
    r = subprocess.run(["tcprewrite", "--portmap=993:9993", "-i", p12,
                        "-o", moved], capture_output=True, text=True)
    if not ok(r.returncode == 0, "tcprewrite moves the TLS 1.2 session "
              "to port 9993", r.stderr.strip()[-80:]):
        return
    run = Run([moved, p13], "--imaps-ports", "993,9993")
    t13 = run.tls("TLS 1.3")
    ok(t13 is not None and "name_check_earlier" not in t13 and any(
        e["event_type"] in ("imap", "tls") and 9993 in (
            e.get("src_port"), e.get("dest_port")) for e in run.events),
       "the same name on another port (9993): no hint")


def across_runs(p12, p13, want):
    """Two imapwatch processes in turn on one redis-server."""
    import collectors
    if not ok(os.path.exists(collectors.REDIS_SERVER), "redis-server is "
              "there (make test-deps)"):
        return
    d = tempfile.mkdtemp(prefix="iw-earlier-redis.")
    sock = os.path.join(d, "redis.sock")
    port = collectors.free_port()
    proc = subprocess.Popen([collectors.REDIS_SERVER, "--port", str(port),
                             "--bind", "127.0.0.1", "--unixsocket", sock,
                             "--unixsocketperm", "700", "--save", "",
                             "--appendonly", "no", "--dir", d,
                             "--daemonize", "no", "--logfile", ""],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        if not ok(collectors.wait_for(lambda: os.path.exists(sock), 15),
                  "redis-server started"):
            return
        state = "unix:%s/earlier" % sock
        Run([p12], "--state", state)
        second = Run([p13], "--state", state)
        t13 = second.tls("TLS 1.3")
        ok(t13 is not None and t13.get("name_check_earlier") == want,
           "--state in Redis: the next process gives the hint %r" % want,
           repr(t13 and t13.get("name_check_earlier")))
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    tmp = tempfile.mkdtemp(prefix="iw-earlier.")
    try:
        got = None
        for old, new in PAIRS:
            got = check_pair(old, new, tmp) or got
        if got is not None:
            other_port(got[0], got[1], tmp)
            across_runs(*got)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return iwtest.exit_status()


if __name__ == "__main__":
    sys.exit(main())
