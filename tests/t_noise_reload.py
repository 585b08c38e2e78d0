#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""SIGHUP reload, deterministic: imapwatch reads a real capture from a slow
pipe (-r -); the test writes the packets of the first session, sends HUP
after changing the configuration and suppression files, and writes the
rest.  What the first session raised follows the old settings, what the
second raised the new ones; a broken file on a later HUP keeps them.

Capture: ../shared/corpus/bruteshark "IMAP - Authenticate Plain (Base64)"
(Thunderbird, AUTHENTICATE PLAIN in the clear; session A on client port
23465 raises its alerts before the first packet of session B, 23472);
the policy and server-name reload uses the project's dovecot captures
and runs without the corpus.  Prints ok/not ok/skip lines.  Environment:
IMAPWATCH, IW_SHARED.
"""

import json
import os
import queue
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import iwtest  # noqa: E402
from iwtest import CORPUS, IMAPWATCH as IW, ok  # noqa: E402

TB = os.path.join(CORPUS, "bruteshark",
                  "IMAP - Authenticate Plain (Base64).pcap")
T = tempfile.mkdtemp(prefix="iw-reload.")


def read_pcap(path):
    data = open(path, "rb").read()
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") \
        else ">"
    off, pkts = 24, []
    while off + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        pkts.append(data[off:off + 16 + caplen])
        off += 16 + caplen
    return data[:24], pkts


def client_port(pkt):
    # Ethernet, IPv4 without options in this capture
    ip = 16 + 14
    ihl = (pkt[ip] & 15) * 4
    sport, dport = struct.unpack(">HH", pkt[ip + ihl:ip + ihl + 4])
    return dport if sport == 143 else sport


def write(name, text):
    path = os.path.join(T, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class Run:
    def __init__(self, args):
        self.err = queue.Queue()
        self.lines = []
        self.p = subprocess.Popen([IW, "-r", "-"] + args,
                                  stdin=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stderr:
            self.err.put(line.decode(errors="replace").rstrip("\n"))

    def feed(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def expect(self, text, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            try:
                line = self.err.get(timeout=0.1)
            except queue.Empty:
                continue
            self.lines.append(line)
            if text in line:
                return line
        return None

    def finish(self):
        """The exit status; a sanitizer report on stderr is a failure."""
        self.p.stdin.close()
        rc = self.p.wait(timeout=30)
        time.sleep(0.1)
        while not self.err.empty():
            self.lines.append(self.err.get())
        iwtest.check_stderr("\n".join(self.lines), "imapwatch -r - "
                            "(reloaded)")
        return rc


def alerts_of(evs, port):
    return sorted((e["alert"]["signature"], e["imap"].get("username"))
                  for e in evs if e["event_type"] == "alert" and
                  e["src_port"] == port)


def split():
    hdr, pkts = read_pcap(TB)
    first_b = next(i for i, p in enumerate(pkts) if client_port(p) == 23472)
    return hdr, pkts[:first_b], pkts[first_b:]


def config_reload():
    hdr, part1, part2 = split()
    sup = write("sup", "# nothing\n")
    conf = write("conf", "suppress = %s\n" % sup)
    out = os.path.join(T, "events.json")
    r = Run(["--config", conf, "-o", out])
    r.feed(hdr + b"".join(part1))
    time.sleep(0.7)
    write("sup", "starttls_not_used server=212.227.15.171\n")
    write("conf", "suppress = %s\nusernames = hash\nusername-salt = x\n"
          "max-flows = 5000\n" % sup)
    r.p.send_signal(signal.SIGHUP)
    r.feed(part2[0])
    note = r.expect("takes a restart")
    ok(note is not None and "username-salt" in note and "max-flows" in note,
       "reload: one line names the options that take a restart: %s" % note)
    line = r.expect("reloaded")
    ok(line == "imapwatch: reloaded %s" % conf,
       "reload of config and suppressions reported: %s" % line)
    write("sup", "starttls_not_used server=212.227.15.171\nbad_id\n")
    r.p.send_signal(signal.SIGHUP)
    r.feed(part2[1])
    line = r.expect("reload failed")
    ok(line is not None and "sup:2: 'bad_id'" in line,
       "a broken suppression file: the reload fails in one line: %s" % line)
    write("sup", "# nothing\n")
    write("conf", "garbage line\n")
    r.p.send_signal(signal.SIGHUP)
    r.feed(part2[2])
    line = r.expect("reload failed")
    ok(line is not None and "conf:1:" in line,
       "a broken config file: the reload fails in one line: %s" % line)
    r.feed(b"".join(part2[3:]))
    rc = r.finish()
    ok(rc == 0 and not [l for l in r.lines if "Sanitizer" in l or
                        "runtime error" in l],
       "the run ends well (exit %d)" % rc)
    evs = [json.loads(l) for l in open(out)]
    a, b = alerts_of(evs, 23465), alerts_of(evs, 23472)
    user = "digitalinvestigator@networksims.com"
    ok(a == [("cleartext_auth", user), ("logindisabled_missing", None),
             ("starttls_not_used", None)],
       "session A, before the reload: the old settings (all alerts, plain "
       "usernames) %s" % a)
    ok(len(b) == 2 and b[0][0] == "cleartext_auth" and
       b[0][1].startswith("sha256:") and b[1] == ("logindisabled_missing",
                                                   None),
       "session B, after: starttls_not_used suppressed and the username "
       "hashed; the broken files changed nothing %s" % b)
    sess = [e for e in evs if e["event_type"] == "imap" and
            e["src_port"] == 23472]
    ok(len(sess) == 1 and sess[0]["imap"].get("findings_suppressed") ==
       ["starttls_not_used"], "session B's event lists the suppressed "
       "finding")


def suppress_only_reload():
    """No --config: HUP rereads the --suppress file of the command line."""
    hdr, part1, part2 = split()
    sup = write("sup2", "cleartext_auth\n")
    out = os.path.join(T, "events2.json")
    r = Run(["--suppress", sup, "-o", out])
    r.feed(hdr + b"".join(part1))
    time.sleep(0.7)
    os.unlink(sup)
    r.p.send_signal(signal.SIGHUP)
    r.feed(part2[0])
    line = r.expect("reload failed")
    ok(line is not None and sup in line,
       "without --config: a vanished --suppress file fails the reload: %s"
       % line)
    write("sup2", "# all back\n")
    r.p.send_signal(signal.SIGHUP)
    r.feed(part2[1])
    ok(r.expect("imapwatch: reloaded") is not None,
       "without --config: HUP rereads the --suppress file")
    r.feed(b"".join(part2[2:]))
    rc = r.finish()
    evs = [json.loads(l) for l in open(out)]
    ok(rc == 0 and ("cleartext_auth" not in
                    [s for s, _ in alerts_of(evs, 23465)]) and
       ("cleartext_auth" in [s for s, _ in alerts_of(evs, 23472)]),
       "session A's cleartext_auth suppressed, session B's written")


def policy_and_names_reload():
    """The policy and the expected server names, reread on HUP."""
    pc = lambda n: os.path.join(ROOT, "pcaps", n + ".pcap")
    hdr, nosni = read_pcap(pc("dovecot-imaps-tls12-nosni"))
    _, named = read_pcap(pc("dovecot-imaps-tls12-nosni-server-name"))
    _, cbc = read_pcap(pc("dovecot-imaps-cbc-ecdhe"))
    pol, names = write("policy", "# defaults\n"), write("names", "# none\n")
    conf = write("conf3", "policy = %s\nserver-names = %s\n" % (pol, names))
    out = os.path.join(T, "events3.json")
    r = Run(["--config", conf, "-o", out])
    r.feed(hdr + b"".join(nosni))
    time.sleep(0.7)
    write("policy", "weak-cipher CBC\n")
    write("names", "10.77.0.1:993=imap.example.test\n")
    r.p.send_signal(signal.SIGHUP)
    r.feed(named[0])
    ok(r.expect("imapwatch: reloaded") is not None,
       "HUP rereads the policy and the server-names files")
    write("policy", "weak-cipher NOSUCHCLASS\n")
    r.p.send_signal(signal.SIGHUP)
    r.feed(named[1])
    line = r.expect("reload failed")
    ok(line is not None and "policy:1:" in line,
       "a broken policy file fails the reload: %s" % line)
    r.feed(b"".join(named[2:] + cbc))
    rc = r.finish()
    evs = [json.loads(l) for l in open(out)]
    sig = lambda port: sorted(e["alert"]["signature"] for e in evs
                              if e["event_type"] == "alert" and
                              e["src_port"] == port)
    ports = [e["src_port"] for e in evs if e["event_type"] == "imap"]
    ok(rc == 0 and len(ports) == 3, "three IMAPS sessions (%s)" % ports)
    if len(ports) != 3:
        return
    ok(sig(ports[0]) == ["no_sni"], "before the reload: no name, no_sni")
    checks = [e["tls"].get("name_check") for e in evs
              if e["event_type"] == "imap"]
    ok("no_sni" not in sig(ports[1]) and checks[1] == {"name": "imap.example.test",
                                             "source": "configured",
                                             "result": "match"},
       "after: the reloaded server name is checked (%s)" % checks[1])
    ok("weak_cipher" in sig(ports[2]),
       "after: the reloaded policy flags CBC, and the broken one did not "
       "undo it (%s)" % sig(ports[2]))


def main():
    try:
        if iwtest.need_corpus("reloads on a Thunderbird capture"):
            config_reload()
            suppress_only_reload()
        policy_and_names_reload()
    finally:
        shutil.rmtree(T, ignore_errors=True)
    return iwtest.exit_status()


if __name__ == "__main__":
    sys.exit(main())
