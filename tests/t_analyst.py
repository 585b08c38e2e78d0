#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""For analysts on a pcap: --summary checked against the events of the
same run, the progress line (on a pseudo-terminal, never elsewhere),
several -r files merged by packet time (a capture split in two gives the
events of the whole), --write-alerted read back with tshark (exactly the
alerted connections, every packet of them; two passes on files and the
buffered way on a pipe agree).

Captures: the project's dovecot captures (pcaps/, all 70-odd merged: many
sessions and findings on a few servers) and ../shared/corpus (read in
place; the parts that use it skip without it).  Prints ok/not ok/skip
lines.  Environment: IMAPWATCH, IW_SHARED.
"""

import base64
import glob
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import iwtest  # noqa: E402
from iwtest import CORPUS, IMAPWATCH as IW, ok  # noqa: E402

TB = os.path.join(CORPUS, "bruteshark",
                  "IMAP - Authenticate Plain (Base64).pcap")
DOVECOT = sorted(glob.glob(os.path.join(ROOT, "pcaps", "dovecot-*.pcap")))
T = tempfile.mkdtemp(prefix="iw-analyst.")


def rargs(files):
    out = []
    for f in files:
        out += ["-r", f]
    return out


def run(files, *args, rc=0, **kw):
    """imapwatch -r FILE... ARGS: (result, events); an exit status other
    than rc, or a sanitizer report, is a "not ok" line."""
    r = iwtest.run(rargs(files) + list(args), rc=rc, **kw)
    return r, r.events


def passwords():
    """Those of our captures (their expectations list them) and those
    tshark finds in the corpus capture's logins."""
    pws = set()
    for f in glob.glob(os.path.join(ROOT, "pcaps", "*.expect.json")):
        pws.update(json.load(open(f)).get("passwords", []))
    pws.update(iwtest.capture_passwords(TB))
    return pws


# ---- --summary ----

SEVERITY = {"high": 1, "medium": 2, "low": 3}


def parse_summary(text):
    """Sections of the report: the headline, findings (with counts and
    examples) and servers (with their fields)."""
    s = {"sessions": {}, "servers": {}, "findings": {}, "head": {}}
    section, cur = None, None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            section = re.split(r"[ :(]", line)[0].lower()
            if section == "findings":
                s["findings_line"] = line
            continue
        if section == "imapwatch":
            k, _, v = line.strip().partition(": ")
            s["head"][k] = v
        elif section == "servers":
            m = re.match(r"^  (\S+): (\d+) sessions? \((.*)\)$", line)
            if m:
                cur = s["servers"].setdefault(m.group(1), {
                    "cert": [], "sessions": int(m.group(2)),
                    "modes": m.group(3)})
                continue
            k, _, v = line.strip().partition(": ")
            if k == "STARTTLS offered":
                cur["STARTTLS offered"], _, ld = v.partition(
                    "; LOGINDISABLED advertised: ")
                cur["LOGINDISABLED advertised"] = ld
            elif k == "TLS":
                cur["TLS versions"], _, cur["TLS ciphers"] = \
                    v.partition("; ")
            elif k == "certificate" and (v.endswith("more seen") or
                                         v.startswith("encrypted")):
                cur["cert"].append(line.strip())
            elif k == "certificate":
                cur["cert"].append(v)
            else:
                cur[k] = v
        elif section == "findings":
            m = re.match(r"^  (high|medium|low) +(\w+): (\d+) alerts?"
                         r"(?: \(severity ([\d-]+)\))?"
                         r"(?:, (\d+) suppressed)?"
                         r"(?:, (\d+) repeated \(once per server\))?$",
                         line)
            if m:
                cur = s["findings"].setdefault(m.group(2), {
                    "alerts": int(m.group(3)),
                    "suppressed": int(m.group(5) or 0),
                    "repeated": int(m.group(6) or 0),
                    "severity": m.group(4) or str(SEVERITY[m.group(1)]),
                    "message": None, "examples": []})
            elif cur["message"] is None:
                cur["message"] = line.strip()
            else:
                cur["examples"].append(line.strip())
    return s


def endpoint(ip, port):
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)


def expected_servers(evs):
    servers = {}
    for e in evs:
        if e["event_type"] not in ("imap", "tls"):
            continue
        obj, tls = e[e["event_type"]], e.get("tls", {})
        s = servers.setdefault(endpoint(e["dest_ip"], e["dest_port"]), {
            "n": 0, "starttls": set(), "ld": set(), "versions": [],
            "ciphers": [], "certs": [], "findings": set()})
        s["n"] += 1
        if "capabilities" in obj:
            s["starttls"].add(obj.get("starttls_offered"))
            s["ld"].add(obj.get("logindisabled"))
        for k, f in (("versions", "version"), ("ciphers", "cipher")):
            if f in tls and tls[f] not in s[k]:
                s[k].append(tls[f])
        if "subject" in tls:
            key = tls.get("key", {})
            c = (tls["subject"], tls.get("notafter", "-"),
                 "%s %d" % (key.get("type", "-"), key.get("bits", 0)))
            if c not in s["certs"]:
                s["certs"].append(c)
        s["findings"].update(obj.get("findings", []))
    return servers


def yes_no(vals):
    vals = vals - {None}
    if not vals:
        return None
    if len(vals) == 2:
        return "yes in"
    return "yes" if True in vals else "no"


MODES = {"cleartext": "cleartext", "starttls": "STARTTLS",
         "implicit_tls": "IMAPS"}


def check_servers(summ, evs):
    want = expected_servers(evs)
    ok(set(summ["servers"]) == set(want),
       "summary lists every server of the session events (%d)" % len(want))
    bad = []
    for addr, w in want.items():
        got = summ["servers"].get(addr, {})
        stls = yes_no(w["starttls"])
        checks = [
            got.get("sessions") == w["n"],
            (got.get("STARTTLS offered") is None) if stls is None else
            got.get("STARTTLS offered", "").startswith(stls),
            (got.get("LOGINDISABLED advertised") is None) if stls is None
            else got.get("LOGINDISABLED advertised", "").startswith(
                yes_no(w["ld"])),
            got.get("TLS versions") == (", ".join(w["versions"][:6]) or
                                        None),
            got.get("TLS ciphers") == (", ".join(w["ciphers"][:6]) or
                                       None),
            [tuple(re.match(r"^(.*); names: .*; expires (\S*)(?: \(.*\))?;"
                            r" key (.*)$", c).groups())
             for c in got.get("cert", []) if "; key " in c] ==
            w["certs"][:6],
            ("certificate: %d more seen" % (len(w["certs"]) - 6) in
             got.get("cert", [])) == (len(w["certs"]) > 6),
            set(got.get("findings", "none").split(", ")) - {"none"} ==
            w["findings"],
        ]
        if not all(checks):
            bad.append("%s %s" % (addr, checks))
    ok(not bad, "summary: each server's sessions, STARTTLS offered, "
       "LOGINDISABLED, TLS versions and ciphers, certificates and expiry, "
       "findings agree with the events %s" % bad[:2])


def check_findings(summ, evs):
    al = [e for e in evs if e["event_type"] == "alert"]
    want = {}
    for a in al:
        want.setdefault(a["alert"]["signature"], []).append(a)
    got = summ["findings"]
    ok({k: v["alerts"] for k, v in got.items() if v["alerts"]} ==
       {k: len(v) for k, v in want.items()},
       "summary: alerts by finding id agree with the alert events (%d ids, "
       "%d alerts)" % (len(want), len(al)))
    sev = {1: 0, 2: 0, 3: 0}
    for a in al:
        sev[a["alert"]["severity"]] += 1
    ok(summ.get("findings_line") == "Findings: %d kinds, %d alerts (high %d,"
       " medium %d, low %d)" % (len(got), len(al), sev[1], sev[2], sev[3]),
       "summary: alerts by severity agree with the alert events")
    bad = []
    for fid, alerts in want.items():
        ex = []
        for a in alerts[:3]:
            user = a.get("imap", {}).get("username")
            ex.append("%s  %s -> %s%s" % (
                a["timestamp"][:19].replace("T", " "),
                endpoint(a["src_ip"], a["src_port"]),
                endpoint(a["dest_ip"], a["dest_port"]),
                "  user " + user if user else ""))
        if got.get(fid, {}).get("examples") != ex or \
                got[fid]["message"] != alerts[0]["alert"]["message"]:
            bad.append(fid)
    ok(not bad, "summary: each finding says what it means (the alert's "
       "message) and its first three alerts (time, client, server, "
       "username) %s" % bad)
    st = [e for e in evs if e["event_type"] == "stats"][-1]["stats"]
    sup = st["sessions"]["findings_suppressed"]
    ok({k: v["suppressed"] for k, v in got.items() if v["suppressed"]} ==
       sup, "summary: suppressed counts agree with the stats event %s" % sup)
    clear = [a for a in al if a["alert"]["signature"] == "cleartext_login"
             or (a["alert"]["signature"] == "cleartext_auth" and
                 a["alert"]["severity"] == 1)]
    users = []
    for a in clear:
        u = a.get("imap", {}).get("username")
        if u is not None and u not in users:
            users.append(u)
    head = "%d login%s" % (len(clear), "" if len(clear) == 1 else "s")
    if users:
        head += ", users: " + ", ".join(users[:5]) + \
            (", ..." if len(users) > 5 else "")
    ok(summ["head"].get("passwords sent in clear") == head,
       "summary: passwords sent in clear as the cleartext_login and "
       "severity-1 cleartext_auth alerts say (%s)" % head)


def check_sessions(summ, evs):
    modes = {"cleartext": 0, "STARTTLS": 0, "IMAPS": 0, "other TLS": 0}
    for e in evs:
        if e["event_type"] == "imap":
            modes[MODES[e["imap"]["mode"]]] += 1
        elif e["event_type"] == "tls":
            modes["other TLS"] += 1
    imap = modes["cleartext"] + modes["STARTTLS"] + modes["IMAPS"]
    want = "%d IMAP (%s)" % (imap, ", ".join(
        "%s %d" % (k, v) for k, v in modes.items() if v))
    ok(summ["head"].get("sessions") == want, "summary: sessions by mode "
       "agree with the session events (%s)" % want)
    st = [e for e in evs if e["event_type"] == "stats"][-1]["stats"]
    cap = st["capture"]
    first, last = cap["first_packet"], cap["last_packet"]
    span = "%s to %s UTC" % (first[:19].replace("T", " "),
                             last[11:19] if last[:10] == first[:10] else
                             last[:19].replace("T", " "))
    got = summ["head"].get("capture", "")
    ok(got.startswith(span) and
       got.endswith(", %d packets" % cap["packets"]),
       "summary: capture span and packets as the stats event says (%s)"
       % got)


def summary():
    sup = os.path.join(T, "sup")
    open(sup, "w").write("cleartext_login server=10.77.0.1:1143\n"
                         "cleartext_auth user=digitalinvestigator@"
                         "networksims.com\n")
    path = os.path.join(T, "summary.txt")
    files = DOVECOT + [TB]
    r, evs = run(files, "--summary=" + path, "--suppress", sup,
                 "--all-tls")
    text = open(path, encoding="utf-8").read() if os.path.exists(path) \
        else ""
    ok(r.returncode == 0 and text.startswith("imapwatch summary\n") and
       r.stderr == "", "--summary=FILE: the report in the file, nothing on "
       "stderr")
    summ = parse_summary(text)
    check_sessions(summ, evs)
    check_servers(summ, evs)
    check_findings(summ, evs)
    found = iwtest.leaked(text, passwords())
    ok(not found and "napier123" in passwords(), "summary: none of the %d "
       "passwords of the captures appears (clear or base64)"
       % len(passwords()), "found %s" % found)
    r2, evs2 = run(files, "--summary", "--suppress", sup, "--all-tls")
    ok(r2.stderr == text and no_stats(evs2) == no_stats(evs),
       "--summary: the same report on stderr; the events are unchanged")
    r3, evs3 = run(files, "--suppress", sup, "--all-tls")
    ok(no_stats(evs3) == no_stats(evs),
       "the events with --summary are those without")


def summary_control_chars():
    """A username with terminal escapes must not reach the terminal."""
    pcap = os.path.join(T, "esc.pcap")
    make_escape_pcap(pcap)
    r, evs = run([pcap], "--summary")
    err = r.stderr
    users = [e["imap"].get("username") for e in evs
             if e["event_type"] == "alert" and
             e["imap"].get("username")]
    ok(users and "\x1b" in users[0] and "\x1b" not in err and
       "user ?[2Jevil" in err,
       "summary: control characters from the wire are printed as '?'")


def tcp(src, dst, sport, dport, seq, ack, flags, data=b""):
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40 + len(data), 1, 0,
                     64, 6, 0, bytes(src), bytes(dst))
    t = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 0x50, flags,
                    65535, 0, 0)
    eth = b"\x00\x01\x02\x03\x04\x05\x00\x01\x02\x03\x04\x06\x08\x00"
    return eth + ip + t + data


def save_pcap(path, pk):
    out = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
    for i, p in enumerate(pk):
        out += struct.pack("<IIII", 1700000000 + i // 1000, i % 1000 * 1000,
                           len(p), len(p)) + p
    open(path, "wb").write(out)


def make_escape_pcap(path):
    """One cleartext LOGIN whose username holds ESC [2J, built by hand."""
    c, s = [10, 0, 0, 2], [10, 0, 0, 1]
    greet = b"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"
    login = b"a LOGIN \x1b[2Jevil pw\r\n"
    pk = [tcp(c, s, 40000, 143, 100, 0, 0x02),
          tcp(s, c, 143, 40000, 500, 101, 0x12),
          tcp(c, s, 40000, 143, 101, 501, 0x10),
          tcp(s, c, 143, 40000, 501, 101, 0x18, greet),
          tcp(c, s, 40000, 143, 101, 501 + len(greet), 0x18, login),
          tcp(s, c, 143, 40000, 501 + len(greet), 101 + len(login), 0x18,
              b"a OK\r\n")]
    save_pcap(path, pk)
    return True


def make_long_pcap(path, noops):
    """A server with LOGINDISABLED (nothing to say at first), a client
    sending NOOPs, then LOGIN anyway: the first alert comes late.
    Returns the packets and the index of the LOGIN packet."""
    c, s = [10, 0, 0, 2], [10, 0, 0, 1]
    cs, ss = 1000, 5000
    pk = [tcp(c, s, 40001, 143, cs, 0, 0x02),
          tcp(s, c, 143, 40001, ss, cs + 1, 0x12),
          tcp(c, s, 40001, 143, cs + 1, ss + 1, 0x10)]
    cs, ss = cs + 1, ss + 1

    def say(frm, data):
        nonlocal cs, ss
        if frm == "c":
            pk.append(tcp(c, s, 40001, 143, cs, ss, 0x18, data))
            cs += len(data)
        else:
            pk.append(tcp(s, c, 143, 40001, ss, cs, 0x18, data))
            ss += len(data)
    say("s", b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n")
    for i in range(noops):
        say("c", b"n%d NOOP\r\n" % i)
        say("s", b"n%d OK done\r\n" % i)
    login = len(pk)
    say("c", b"a LOGIN bob pw\r\n")
    say("s", b"a NO [PRIVACYREQUIRED] no\r\n")
    say("c", b"b LOGOUT\r\n")
    say("s", b"* BYE\r\nb OK\r\n")
    pk.append(tcp(c, s, 40001, 143, cs, ss, 0x11))
    pk.append(tcp(s, c, 143, 40001, ss, cs + 1, 0x11))
    pk.append(tcp(c, s, 40001, 143, cs + 1, ss + 1, 0x10))
    save_pcap(path, pk)
    return pk, login


# ---- the progress line ----

def progress():
    big = os.path.join(T, "big.pcap")
    # many copies of a real capture, one after another in time
    hdr, pkts = read_pcap(os.path.join(ROOT, "pcaps",
                                       "dovecot-bruteforce.pcap"))
    with open(big, "wb") as f:
        f.write(hdr)
        for i in range(120):
            for p in pkts:
                ts = struct.unpack("<I", p[:4])[0] + 3600 * i
                f.write(struct.pack("<I", ts) + p[4:])
    size = os.path.getsize(big)
    master, slave = pty.openpty()
    p = subprocess.Popen([IW, "-r", big, "-o", "/dev/null"],
                         stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    out, t0, draws = b"", time.time(), 0
    # hold it back now and then so that it runs long enough to report
    while p.poll() is None:
        os.kill(p.pid, signal.SIGSTOP)
        time.sleep(0.3)
        os.kill(p.pid, signal.SIGCONT)
        out += drain(master, 0.02)
    elapsed = time.time() - t0
    out += drain(master, 0.2)
    os.close(master)
    text = out.decode(errors="replace")
    iwtest.check_stderr(text, "imapwatch on a terminal")
    lines = [l for l in text.split("\r") if l.startswith("imapwatch: ")]
    ok(p.returncode == 0 and lines, "progress: lines on a terminal (%d in "
       "%.1f s)" % (len(lines), elapsed))
    m = re.match(r"imapwatch: ([\d.]+ \w+) of ([\d.]+ MiB) \(([\d.]+)%\), "
                 r"[\d.]+ \w+/s, (\d+) packets\x1b\[K$",
                 lines[-1] if lines else "")
    ok(m and m.group(2) == "%.1f MiB" % (size / 1048576.0) and
       0 < float(m.group(3)) < 100,
       "progress: bytes done, of the total, percentage, rate, packets: %r"
       % (lines[-1] if lines else ""))
    pcts = [float(x) for x in re.findall(r"\(([\d.]+)%\)", text)]
    ok(pcts == sorted(pcts), "progress: the percentage only grows")
    ok(len(lines) <= elapsed * 4 + 2, "progress: at most four updates a "
       "second (%d in %.1f s)" % (len(lines), elapsed))
    ok(text.endswith("\r\x1b[K"), "progress: the line is erased at the end")
    r = iwtest.run(["-r", big, "-o", "/dev/null"])
    ok(r.returncode == 0 and r.stderr == "",
       "progress: nothing when stderr is not a terminal")


def drain(fd, timeout):
    data = b""
    while select.select([fd], [], [], timeout)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


# ---- merging -r files ----

def read_pcap(path):
    data = open(path, "rb").read()
    off, pkts = 24, []
    while off + 16 <= len(data):
        caplen = struct.unpack("<I", data[off + 8:off + 12])[0]
        pkts.append(data[off:off + 16 + caplen])
        off += 16 + caplen
    return data[:24], pkts


def write_pcap(path, hdr, pkts):
    with open(path, "wb") as f:
        f.write(hdr + b"".join(pkts))
    return path


def no_stats(evs):
    return [json.dumps(e, sort_keys=True) for e in evs
            if e["event_type"] != "stats"]


def merge():
    src = os.path.join(ROOT, "pcaps", "dovecot-bruteforce.pcap")
    hdr, pkts = read_pcap(src)
    _, whole = run([src], "--flows")
    a = write_pcap(os.path.join(T, "odd.pcap"), hdr, pkts[0::2])
    b = write_pcap(os.path.join(T, "even.pcap"), hdr, pkts[1::2])
    ok(no_stats(run([a, b], "--flows")[1]) == no_stats(whole) and
       len(no_stats(whole)) > 20,
       "merge: a capture split packet by packet into two files gives the "
       "events of the whole (%d events)" % len(no_stats(whole)))
    ok(no_stats(run([b, a], "--flows")[1]) == no_stats(whole),
       "merge: the same with the files in the other order")
    bng = os.path.join(T, "even.pcapng")
    subprocess.run(["editcap", "-F", "pcapng", b, bng], check=True)
    ok(no_stats(run([bng, a], "--flows")[1]) == no_stats(whole),
       "merge: pcap and pcapng files together")
    half = len(pkts) // 2
    c = write_pcap(os.path.join(T, "first.pcap"), hdr, pkts[:half])
    d = write_pcap(os.path.join(T, "second.pcap"), hdr, pkts[half:])
    ok(no_stats(run([d, c], "--flows")[1]) == no_stats(whole),
       "merge: two captures one after another in time, given in reverse "
       "order, are read in time order")
    st = [e for e in run([a, b])[1] if e["event_type"] == "stats"][-1]
    ok(st["stats"]["capture"]["packets"] == len(pkts),
       "merge: stats count every packet of both files")
    if not iwtest.need_corpus("merging captures of other places"):
        return
    files = [iwtest.corpus_file("zeek/imap-starttls.pcap"),
             iwtest.corpus_file("ndpi/imaps.pcap"), TB]
    sep = sorted(no_stats(sum((run([f])[1] for f in files), [])))
    ok(sorted(no_stats(run(files)[1])) == sep,
       "merge: captures of other places and times together give each one's "
       "events (corpus: zeek, ndpi, bruteshark)")


# ---- --write-alerted ----

def tshark_packets(pcap, extra=()):
    r = subprocess.run(["tshark", "-n", "-r", pcap] + list(extra) +
                       ["-T", "fields", "-e", "frame.time_epoch",
                        "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
                        "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
                        "-e", "tcp.seq_raw", "-e", "frame.len"],
                       capture_output=True, text=True)
    return r.returncode, [tuple(l.split("\t")) for l in r.stdout.splitlines()]


def conn(p):
    a = (p[1] or p[2], p[3])
    b = (p[4] or p[5], p[6])
    return tuple(sorted([a, b]))


def check_alerted(name, files, extra=()):
    out = os.path.join(T, name + ".pcap")
    r, evs = run(files, "--write-alerted", out, *extra)
    rc, got = tshark_packets(out)
    ok(r.returncode == 0 and rc == 0, "%s: tshark reads the file" % name)
    alerted = {tuple(sorted([(e["src_ip"], str(e["src_port"])),
                             (e["dest_ip"], str(e["dest_port"]))]))
               for e in evs if e["event_type"] == "alert"}
    src = files[0]
    if len(files) > 1:		# one tshark run, not one a file
        src = os.path.join(T, name + ".input.pcap")
        subprocess.run(["mergecap", "-F", "pcap", "-w", src] + files,
                       check=True)
    want = [p for p in tshark_packets(src)[1] if conn(p) in alerted]
    ok({conn(p) for p in got} == alerted,
       "%s: exactly the %d alerted connections" % (name, len(alerted)))
    ok(sorted(got) == sorted(want),
       "%s: every packet of them (%d), none other" % (name, len(want)))
    ok([p[0] for p in got] == sorted(p[0] for p in got) or len(files) == 1,
       "%s: in time order" % name)
    return out, alerted


def write_alerted():
    out, _ = check_alerted("alerted-tb", [TB])
    piped = os.path.join(T, "piped.pcap")
    with open(TB, "rb") as fp:
        r = iwtest.run(["-r", "-", "--write-alerted", piped], stdin=fp)
    ok(r.returncode == 0 and open(piped, "rb").read() ==
       open(out, "rb").read(), "--write-alerted from a pipe (held packets) "
       "writes the same file as the two passes on a file")
    check_alerted("alerted-dovecot", DOVECOT)
    out, alerted = check_alerted("alerted-suppressed", [TB], (
        "--suppress", write_text("sup-all-but", "* client=192.168.0.4\n")))
    ok(not alerted, "--write-alerted: suppressed alerts do not count")
    quiet = os.path.join(ROOT, "pcaps", "dovecot-starttls-tls13.pcap")
    out = os.path.join(T, "none.pcap")
    r, evs = run([quiet], "--write-alerted", out)
    rc, got = tshark_packets(out)
    ok(r.returncode == 0 and rc == 0 and got == [] and
       not [e for e in evs if e["event_type"] == "alert"],
       "--write-alerted with no alert: an empty pcap tshark opens")
    r, _ = run([TB], "--write-alerted", "/nonexistent/dir/x.pcap", rc=1)
    ok(r.returncode == 1 and r.out == b"" and
       r.stderr.count("\n") == 1,
       "--write-alerted to an unwritable place: exit 1, one line")


def held_bound():
    """Piped, a connection longer than the bound before its first alert
    loses its beginning: the last 64 packets before it are kept."""
    path = os.path.join(T, "long.pcap")
    pk, login = make_long_pcap(path, 100)
    out = os.path.join(T, "long-file.pcap")
    r, evs = run([path], "--write-alerted", out)
    first = min(i for i, e in enumerate(evs) if e["event_type"] == "alert")
    rc, whole = tshark_packets(out)
    ok(r.returncode == 0 and len(whole) == len(pk) and
       evs[first]["alert"]["signature"] == "login_despite_logindisabled",
       "--write-alerted on a file: all %d packets of a connection alerted "
       "late" % len(pk))
    piped = os.path.join(T, "long-pipe.pcap")
    with open(path, "rb") as fp:
        r = iwtest.run(["-r", "-", "--write-alerted", piped], stdin=fp)
    rc, held = tshark_packets(piped)
    ok(r.returncode == 0 and held == whole[login - 64:],
       "--write-alerted piped: the 64 packets before the first alert, then "
       "the rest (%d of %d)" % (len(held), len(whole)))


def piped_same_connections():
    merged = os.path.join(T, "dovecot-all.pcap")
    subprocess.run(["mergecap", "-F", "pcap", "-w", merged] + DOVECOT,
                   check=True)
    a, b = os.path.join(T, "two-pass.pcap"), os.path.join(T, "held.pcap")
    run([merged], "--write-alerted", a)
    with open(merged, "rb") as fp:
        r = iwtest.run(["-r", "-", "--write-alerted", b], stdin=fp)

    def by_conn(pcap):
        conns = {}
        for p in tshark_packets(pcap)[1]:
            conns.setdefault(conn(p), []).append(p)
        return conns
    ca, cb = by_conn(a), by_conn(b)
    ok(r.returncode == 0 and ca == cb and len(ca) > 50,
       "--write-alerted piped (held packets) and on a file (two passes): "
       "the same packets of the same %d connections" % len(ca))


def write_text(name, text):
    path = os.path.join(T, name)
    open(path, "w").write(text)
    return path


def main():
    if not ok(shutil.which("tshark"), "tshark is installed"):
        return 1
    try:
        if iwtest.need_corpus("--summary over dovecot and Thunderbird"):
            summary()
        summary_control_chars()
        progress()
        merge()
        if iwtest.need_corpus("--write-alerted on a Thunderbird capture"):
            write_alerted()
        held_bound()
        piped_same_connections()
    finally:
        shutil.rmtree(T, ignore_errors=True)
    return iwtest.exit_status()


if __name__ == "__main__":
    sys.exit(main())
