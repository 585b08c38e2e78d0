#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Noise control on real captures: --suppress (by finding id, server,
client, user), --alert-once-per-server, and the --config file with the
command line winning over it.

Each suppression case is checked against the same run without rules: the
alerts written must be exactly the unsuppressed run's minus those the rule
matches (matched here, in Python, independently of the C code); the
session events keep every finding and list the suppressed ones; the stats
event counts them by id.

Then what the options that take a number or a list do, each on a capture
whose expected outcome is known without imapwatch: --verify-checksums
(a LOGIN segment whose checksum tshark calls bad), --closed-timeout (a
late retransmitted FIN), --imaps-ports (TLS without ALPN, and cleartext,
moved to other ports), --bruteforce N/SECS (dovecot's failures, timed by
tshark).  (-s, a live capture's snaplen, is t_sensor.py's.)

Captures: ../shared/corpus/bruteshark (three Thunderbird sessions to one
server, read in place), the project's dovecot captures in pcaps/, and
small ones made here (tests/lib/pcapgen.py).  Only the suppression cases
on the corpus capture need the corpus.  Prints ok/not ok/skip lines
(tests/run.sh).  Environment: IMAPWATCH, IW_SHARED.
"""

import calendar
import glob
import hashlib
import hmac
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import iwtest  # noqa: E402
import pcapgen  # noqa: E402
from iwtest import CORPUS, ok  # noqa: E402

TB = os.path.join(CORPUS, "bruteshark",
                  "IMAP - Authenticate Plain (Base64).pcap")
LOGIN = os.path.join(ROOT, "pcaps", "dovecot-cleartext-login.pcap")
V6 = os.path.join(ROOT, "pcaps", "dovecot-nostarttls-ipv6-login.pcap")
DOVECOT = sorted(glob.glob(os.path.join(ROOT, "pcaps", "dovecot-*.pcap")))
POSTURE = {"logindisabled_missing", "starttls_not_offered",
           "cleartext_on_imaps_port", "weak_cipher", "obsolete_tls_version",
           "no_forward_secrecy", "cert_name_mismatch", "cert_expired",
           "cert_not_yet_valid", "cert_self_signed", "cert_untrusted",
           "weak_key", "weak_signature", "no_sni"}
T = tempfile.mkdtemp(prefix="iw-noise.")


def run(*args, files=(), rc_ok=(0,)):
    """imapwatch -r FILE... ARGS: (result, events); an exit status not in
    rc_ok or a sanitizer report is a "not ok" line (tests/lib/iwtest.py)."""
    cmd = []
    for f in files:
        cmd += ["-r", f]
    r = iwtest.run(cmd + list(args), rc=rc_ok)
    return r, (r.events if r.returncode == 0 else [])


def write(name, text):
    path = os.path.join(T, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def owner_only(name, text):
    """A file only its owner may read (--state-password-file)."""
    path = write(name, text)
    os.chmod(path, 0o600)
    return path


def alerts(evs):
    return [e for e in evs if e["event_type"] == "alert"]


def sessions(evs):
    return [e for e in evs if e["event_type"] in ("imap", "tls")]


def stats(evs):
    return [e for e in evs if e["event_type"] == "stats"][-1]["stats"]


def server_of(e):
    return ipaddress.ip_address(e["dest_ip"]), e["dest_port"]


# ---- suppression, matched independently ----

def parse_rule(line):
    words = line.split("#")[0].split()
    if not words:
        return None
    rule = {"id": words[0]}
    for w in words[1:]:
        k, _, v = w.partition("=")
        if k == "server":
            m = re.match(r"^\[(.*)\](?::(\d+))?$", v) or \
                re.match(r"^([^:]*)(?::(\d+))?$", v) or \
                re.match(r"^(.*)()$", v)
            rule["server"] = (ipaddress.ip_address(m.group(1)),
                              int(m.group(2)) if m.group(2) else None)
        elif k == "client":
            rule["client"] = ipaddress.ip_network(v, strict=False)
        elif k == "user":
            rule["user"] = v
    return rule


def rule_matches(rule, a):
    if rule["id"] != "*" and rule["id"] != a["alert"]["signature"]:
        return False
    if "server" in rule:
        addr, port = server_of(a)
        if rule["server"][0] != addr or \
                rule["server"][1] not in (None, port):
            return False
    if "client" in rule and \
            ipaddress.ip_address(a["src_ip"]) not in rule["client"]:
        return False
    if "user" in rule:
        u = a.get("imap", {}).get("username")
        if u is None or u.lower() != rule["user"].lower():
            return False
    return True


def key(a):
    return (a["flow_id"], a["alert"]["signature"])


def check_suppression(name, pcap, text, base, extra=()):
    rules = [r for r in map(parse_rule, text.splitlines()) if r]
    path = write("suppress-%s" % name, text)
    r, evs = run("--suppress", path, *extra, files=[pcap])
    if not ok(r.returncode == 0, "%s: runs" % name):
        return
    held = [a for a in alerts(base) if any(rule_matches(x, a) for x in rules)]
    want = [key(a) for a in alerts(base) if a not in held]
    ok([key(a) for a in alerts(evs)] == want,
       "%s: alerts written = unsuppressed run minus the %d matched"
       % (name, len(held)))
    by_flow = {}
    for a in held:
        by_flow.setdefault(a["flow_id"], set()).add(a["alert"]["signature"])
    good = True
    for s, b in zip(sessions(evs), sessions(base)):
        obj, bobj = s[s["event_type"]], b[b["event_type"]]
        sup = set(obj.get("findings_suppressed", []))
        good &= obj["findings"] == bobj["findings"] and \
            sup == by_flow.get(s["flow_id"], set())
    ok(good and len(sessions(evs)) == len(sessions(base)),
       "%s: session events keep every finding and list the suppressed ones"
       % name)
    counts = {}
    for a in held:
        counts[a["alert"]["signature"]] = \
            counts.get(a["alert"]["signature"], 0) + 1
    st = stats(evs)["sessions"]
    ok(st["findings_suppressed"] == counts
       and st["findings"] == stats(base)["sessions"]["findings"],
       "%s: stats count the suppressed by id %s (only ids that occurred), "
       "findings unchanged"
       % (name, counts))
    return held


def suppression():
    base_tb = run(files=[TB])[1]
    base_login = run(files=[LOGIN])[1]
    base_v6 = run(files=[V6])[1]
    ok(len(alerts(base_tb)) == 6 and len(alerts(base_login)) == 3 and
       len(alerts(base_v6)) == 2, "unsuppressed runs: 6, 3 and 2 alerts")
    cases = [
        ("by-id", TB, "# the id alone\ncleartext_auth\n"),
        ("server-port", TB, "* server=212.227.15.171:143\n"),
        ("server-other-port", TB, "* server=212.227.15.171:144\n"),
        ("server-any-port", TB, "logindisabled_missing server=212.227.15.171"
         "   # trailing comment\n"),
        ("client-prefix", TB, "starttls_not_used client=192.168.0.0/24\n"),
        ("client-host", TB, "* client=192.168.0.4/32\n"),
        ("client-elsewhere", TB, "* client=192.168.1.0/24\n"),
        ("user-case", TB,
         "cleartext_auth user=DigitalInvestigator@NETWORKSIMS.com\n"),
        ("two-rules", TB, "\n# two rules\nstarttls_not_used\n"
         "\tlogindisabled_missing client=192.168.0.4 server=212.227.15.171"
         "\n"),
        ("user-all", LOGIN, "* user=alice\n"),
        ("user-and-server", LOGIN, "* user=alice server=10.77.0.9\n"),
        ("ipv6-server", V6, "* server=[fd77::1]:143\n"),
        ("ipv6-bare", V6, "cleartext_login server=fd77::1\n"),
        ("ipv6-client", V6, "* client=fd77::/16\n"),
        ("ipv6-client-v4rule", V6, "* client=0.0.0.0/0\n"),
    ]
    base = {TB: base_tb, LOGIN: base_login, V6: base_v6}
    held = {}
    for name, pcap, text in cases:
        held[name] = check_suppression(name, pcap, text, base[pcap])
    ok(held.get("user-all") is not None and
       sorted(a["alert"]["signature"] for a in held["user-all"]) ==
       ["cleartext_login", "starttls_not_used"],
       "user= holds back the alerts that carry the user "
       "(logindisabled_missing, raised before the login, has none)")
    ok(held.get("ipv6-client-v4rule") == [],
       "an IPv4 prefix never matches an IPv6 client")
    check_suppression("user-hashed", LOGIN, "* user=alice\n",
                      base_login_hashed(), ("--usernames", "hash",
                                            "--username-salt", "s"))
    r, evs = run("--suppress", write("s-omit", "* user=alice\n"),
                 "--usernames", "omit", files=[LOGIN])
    ok(len(alerts(evs)) == 3, "--usernames omit: user= rules match nothing")


def base_login_hashed():
    evs = run("--usernames", "hash", "--username-salt", "s",
              files=[LOGIN])[1]
    # the rule names alice: expect the alerts whose hashed name is hers
    h = "sha256:" + hmac.new(b"s" + b"\0" * 31, b"alice",
                             hashlib.sha256).hexdigest()
    for a in alerts(evs):
        if a.get("imap", {}).get("username") == h:
            a["imap"]["username"] = "alice"
    return evs


def bad_suppress_files():
    cases = [
        ("unknown id", "cleartext_logins\n", ":1: 'cleartext_logins'"),
        ("bad server", "# x\n* server=10.0.0.300\n", ":2: 'server=10.0.0.300'"),
        ("bad port", "* server=10.0.0.1:0\n", ":1:"),
        ("prefix too long", "* client=10.0.0.0/33\n", ":1: 'client=10.0.0.0/33'"),
        ("unknown condition", "* port=143\n", ":1: 'port=143'"),
        ("repeated condition", "* user=a user=b\n", ":1: 'user=b'"),
        ("empty value", "* user=\n", ":1:"),
    ]
    for what, text, where in cases:
        path = write("bad-suppress", text)
        r, _ = run("--suppress", path, files=[LOGIN], rc_ok=(1,))
        lines = r.stderr.splitlines()
        ok(r.returncode == 1 and r.stdout == "" and len(lines) == 1 and
           (path + where) in lines[0],
           "bad --suppress file (%s): exit 1, one line: %s"
           % (what, lines[0] if lines else "-"))
    r, _ = run("--suppress", "/nonexistent/sup", files=[LOGIN], rc_ok=(1,))
    ok(r.returncode == 1 and "/nonexistent/sup" in r.stderr,
       "missing --suppress file: exit 1")


# ---- --alert-once-per-server on the dovecot captures, merged ----

def once_per_server():
    _, base = run(files=DOVECOT)
    r, once = run("--alert-once-per-server", files=DOVECOT)
    if not ok(r.returncode == 0 and len(alerts(base)) > 100,
              "once-per-server: %d captures of dovecot, %d alerts without"
              % (len(DOVECOT), len(alerts(base)))):
        return
    per = {}
    for a in alerts(base):
        per.setdefault((server_of(a), a["alert"]["signature"]), []).append(a)
    folded = {k: v for k, v in per.items() if k[1] in POSTURE}
    kept = [key(a) for a in alerts(once)]
    want = [key(a) for a in alerts(base) if a["alert"]["signature"]
            not in POSTURE or a is per[(server_of(a),
                                        a["alert"]["signature"])][0]]
    ok(kept == want, "once-per-server: the first alert of each server and "
       "posture finding is written, every other finding's alerts are "
       "untouched (%d -> %d alerts)" % (len(alerts(base)), len(kept)))
    reps = {}
    for s in sessions(once):
        for fid, n in s[s["event_type"]].get("findings_repeated", {}).items():
            reps.setdefault((server_of(s), fid), []).append(n)
    good = all(sorted(reps.get(k, [])) == list(range(1, len(v)))
               for k, v in folded.items()) and set(reps) <= set(folded)
    ok(good, "once-per-server: the session events count the repeats of each "
       "server's finding 1..n-1 (%d server/finding pairs folded, e.g. "
       "logindisabled_missing on 10.77.0.1:143: %d)"
       % (sum(1 for v in folded.values() if len(v) > 1),
          len(reps.get(((ipaddress.ip_address("10.77.0.1"), 143),
                        "logindisabled_missing"), []))))
    st = stats(once)["sessions"]
    ok(all(st["findings_repeated"].get(fid, 0) ==
           sum(len(v) - 1 for k, v in folded.items() if k[1] == fid)
           for fid in POSTURE) and
       st["findings"] == stats(base)["sessions"]["findings"],
       "once-per-server: stats count the repeats by id, findings unchanged")
    ok([s[s["event_type"]]["findings"] for s in sessions(once)] ==
       [s[s["event_type"]]["findings"] for s in sessions(base)],
       "once-per-server: every session event keeps its findings")


# ---- the configuration file ----

def long_options():
    src = open(os.path.join(ROOT, "analyzer", "run", "main.c")).read()
    table = src[src.index("long_options[] = {"):]
    table = table[:table.index("{ NULL, 0, NULL, 0 }")]
    return re.findall(r'\{ "([a-z0-9-]+)", (no|required|optional)_argument',
                      table)


def every_key():
    values = {
        "read": LOGIN, "interface": "lo", "filter": "tcp",
        "output": os.path.join(T, "all-keys.json"), "snaplen": "65535",
        "buffer-size": "2048", "user": "root", "imaps-ports": "993,10993",
        "usernames": "hash", "username-salt": "salt", "max-flows": "1000",
        "tcp-timeout": "600", "closed-timeout": "5",
        "reassembly-flow-cap": "2M", "reassembly-cap": "64M",
        "frag-memory": "1M", "flow-memory": "512M",
        "inflate-ratio": "50", "inflate-max": "16M", "anomaly-rate": "10",
        "server-name": "10.77.0.1=imap.example.test",
        "server-names": write("names", "# x\n10.77.0.1:993=imap.example.test"
                              "\n"),
        "policy": write("policy", "weak-cipher CBC\n"),
        "ca-file": "/etc/ssl/certs/ca-certificates.crt",
        "bruteforce": "5/30", "stats-interval": "10", "format": "eve",
        "suppress": write("sup-empty", "# none\n"), "summary":
        os.path.join(T, "all-keys.summary"),
        "pidfile": os.path.join(T, "all-keys.pid"),
        "write-alerted": os.path.join(T, "all-keys.pcap"),
        "state": "unix:" + os.path.join(T, "no-redis.sock"),
        "state-password": "x", "state-password-file": owner_only("pw",
                                                                 "x\n"),
        "state-timeout": "100", "state-ttl": "leaf=3600",
        "state-cap": "authfail=100",
        "report": os.path.join(T, "all-keys.html"), "workers": "2",
        "keylog": owner_only("keylog", "# no keys\n"),
    }
    lines, missing = ["# every option"], []
    for name, arg in long_options():
        if name in ("help", "version", "config"):
            continue
        if arg == "no":
            lines.append(name)
        elif name in values:
            lines.append("%s = %s" % (name, values[name]))
        else:
            missing.append(name)
    ok(not missing, "test knows a value for every long option (%s)"
       % ", ".join(missing))
    path = write("all.conf", "\n".join(lines) + "\n")
    r = iwtest.run(["--config", path, "-r", LOGIN])
    ok(r.returncode == 0 and r.stdout == "" and
       os.path.getsize(os.path.join(T, "all-keys.json")) > 0 and
       os.path.exists(os.path.join(T, "all-keys.summary")) and
       os.path.exists(os.path.join(T, "all-keys.html")),
       "a config file holding every long option (%d keys) is accepted and "
       "applied (%s)" % (len(lines) - 1, r.stderr.strip()[:200]))


def config_overrides():
    out_conf = os.path.join(T, "from-conf.json")
    sup = write("sup-conf", "starttls_not_used\n")
    conf = write("c.conf", """
# comments, blank lines, quoting, booleans
read = %s
output = "%s"
flows
usernames = hash
username-salt = 'pepper'
suppress = %s
all-tls = no
""" % (V6, out_conf, sup))
    out = os.path.join(T, "from-cmdline.json")
    r = iwtest.run(["--config", conf, "-r", LOGIN, "-o", out])
    evs = [json.loads(l) for l in open(out)] if r.returncode == 0 else []
    ok(r.returncode == 0 and not os.path.exists(out_conf) and
       {e.get("dest_port") for e in sessions(evs)} == {143} and
       all(e["src_ip"] == "10.77.0.2" for e in sessions(evs)),
       "command line -r and -o replace the file's read and output")
    h = "sha256:" + hmac.new(b"pepper" + b"\0" * 26, b"alice",
                             hashlib.sha256).hexdigest()
    users = {a["imap"].get("username") for a in alerts(evs)} - {None}
    ok(users == {h}, "the file's usernames = hash with username-salt "
       "applies (HMAC-SHA-256 checked here)")
    ok(any(e["event_type"] == "flow" for e in evs),
       "the file's bare 'flows' key turns flows on")
    ok(not any(a["alert"]["signature"] == "starttls_not_used"
               for a in alerts(evs)), "the file's suppress applies")
    r, evs = run("--config", conf, "--usernames", "plain", "-o", "-",
                 files=[LOGIN])
    ok({a["imap"].get("username") for a in alerts(evs)} - {None} ==
       {"alice"}, "--usernames on the command line wins over the file")
    conf2 = write("c2.conf", "flows = no\nread = %s\n" % LOGIN)
    r, evs = run("--config", conf2)
    ok(r.returncode == 0 and len(sessions(evs)) == 1 and
       not any(e["event_type"] == "flow" for e in evs),
       "'flows = no' and a file-only read = work")


def config_errors():
    cases = [
        ("unknown key", "flows\nno-such-option = 1\n",
         ":2: unknown option 'no-such-option'"),
        ("nested config", "config = /etc/passwd\n", ":1: unknown option"),
        ("missing value", "output\n", ":1: output needs a value"),
        ("bad boolean", "flows = maybe\n", ":1: expected yes or no"),
        ("bad number", "\n\nmax-flows = -3\n", ":3: --max-flows"),
        ("bad key syntax", "Flows = yes\n", ":1: expected"),
        ("bad server-names", "server-names = /nonexistent\n", ":1:"),
    ]
    for what, text, where in cases:
        path = write("bad.conf", text)
        r = iwtest.run(["--config", path, "-r", LOGIN], rc=1)
        lines = r.stderr.splitlines()
        ok(r.returncode == 1 and r.stdout == "" and len(lines) == 1 and
           (path + where) in lines[0],
           "bad config (%s): exit 1, one line: %s"
           % (what, lines[0] if lines else "-"))
    r = iwtest.run(["--config", "/nonexistent.conf", "-r", LOGIN], rc=1)
    ok(r.returncode == 1 and "/nonexistent.conf" in r.stderr,
       "missing --config file: exit 1")
    r = iwtest.run(["--config", os.path.join(ROOT, "contrib",
                    "imapwatch.conf.sample"), "-r", LOGIN, "-o",
                    os.path.join(T, "sample.json")])
    ok(r.returncode == 0, "contrib/imapwatch.conf.sample is accepted "
       "(with -r and -o on the command line) %s" % r.stderr.strip())
    r, _ = run("--suppress", os.path.join(ROOT, "contrib", "suppress.sample"),
               files=[LOGIN])
    ok(r.returncode == 0, "contrib/suppress.sample is accepted")


# ---- what the options do (not only that they are accepted) ----

def tshark_fields(pcap, *args):
    r = subprocess.run(["tshark", "-n", "-r", pcap] + list(args),
                       capture_output=True, text=True, timeout=300)
    ok(r.returncode == 0, "tshark reads %s" % os.path.basename(pcap),
       r.stderr.strip()[-200:])
    return [l.split("\t") for l in r.stdout.splitlines()]


def stat_of(evs, path):
    v = stats(evs)
    for k in path.split("."):
        v = v[k]
    return v


def login_capture(path, bad_login_checksum):
    """Greeting, LOGIN (its segment's TCP checksum wrong if asked), the
    server's answer, LOGOUT, close."""
    cap = pcapgen.Capture()
    c = cap.tcp("192.0.2.10", "192.0.2.143", 40100, 143)
    c.handshake()
    c.server(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
    c.client(b"a1 LOGIN bob Checksum-Secret-1\r\n",
             bad_checksum=bad_login_checksum)
    c.server(b"a1 OK done\r\n")
    c.client(b"a2 LOGOUT\r\n")
    c.server(b"* BYE\r\na2 OK bye\r\n")
    c.close()
    return cap.write(path)


def verify_checksums():
    """The LOGIN segment's checksum is wrong (tshark agrees which frame):
    by default it is counted and read (offload leaves such checksums on
    the sender); --verify-checksums drops it, as the receiving host did,
    so no LOGIN is seen."""
    pcap = login_capture(os.path.join(T, "bad-login-csum.pcap"), True)
    bad = tshark_fields(pcap, "-o", "tcp.check_checksum:TRUE", "-Y",
                        "tcp.checksum.status == 0", "-T", "fields",
                        "-e", "tcp.payload")
    ok(len(bad) == 1 and b"LOGIN" in bytes.fromhex(bad[0][0]),
       "tshark: exactly one bad TCP checksum, on the LOGIN segment")
    _, base = run(files=[pcap])
    _, ver = run("--verify-checksums", files=[pcap])
    logins = lambda evs: [a for a in alerts(evs)
                          if a["alert"]["signature"] == "cleartext_login"]
    ok(len(logins(base)) == 1 and
       stat_of(base, "capture.bad_packets.bad_tcp_checksum") == 1,
       "without --verify-checksums: the bad segment is counted and read "
       "(cleartext_login)")
    ok(not logins(ver) and
       stat_of(ver, "capture.bad_packets.bad_tcp_checksum") == 1,
       "--verify-checksums: the bad segment is counted and dropped (no "
       "cleartext_login)")
    iwtest.check_no_password(json.dumps(base + ver), ["Checksum-Secret-1"],
                             "--verify-checksums runs")


def closed_timeout():
    """A connection closed by FIN, then the server's FIN again 30 s later
    (packet time): within --closed-timeout it belongs to the closed
    connection; past it the connection is gone and the FIN has none."""
    cap = pcapgen.Capture()
    c = cap.tcp("192.0.2.11", "192.0.2.143", 40200, 143)
    c.handshake()
    c.server(b"* OK ready\r\n")
    c.client(b"a1 LOGOUT\r\n")
    c.server(b"* BYE\r\na1 OK bye\r\n")
    c.close("s")
    closed_pkts = c.packets
    cap.wait(30)
    c.retransmit_fin("s")
    pcap = cap.write(os.path.join(T, "late-fin.pcap"))
    for opt, late_in in ((["--closed-timeout", "60"], True),
                         (["--closed-timeout", "10"], False), ([], True)):
        _, evs = run("--flows", *opt, files=[pcap])
        flows = [e for e in evs if e["event_type"] == "flow"]
        pkts = [f["flow"]["pkts_toserver"] + f["flow"]["pkts_toclient"]
                for f in flows]
        want = closed_pkts + (1 if late_in else 0)
        ok(pkts == [want] and
           stat_of(evs, "tcp.segments_without_flow") == (0 if late_in else 1),
           "%s: the FIN 30 s after the close %s (flow of %d packets)"
           % (" ".join(opt) or "default --closed-timeout (60)",
              "is the closed connection's" if late_in else
              "finds no connection", want))


def rewrite_port(src, dst, old, new):
    """src with every TCP port old made new (checksums made again)."""
    from scapy.all import TCP, rdpcap, wrpcap  # noqa: E402
    pkts = rdpcap(src)
    for p in pkts:
        if TCP in p:
            for f in ("sport", "dport"):
                if p[TCP].getfieldval(f) == old:
                    p[TCP].setfieldval(f, new)
            del p[TCP].chksum
    wrpcap(dst, pkts)
    return dst


def imaps_ports():
    """Implicit TLS without ALPN on 8993 is IMAPS only when --imaps-ports
    says so; cleartext IMAP on a port it lists is cleartext_on_imaps_port."""
    tls = rewrite_port(os.path.join(ROOT, "pcaps",
                                    "dovecot-imaps-tls12-sni-match.pcap"),
                       os.path.join(T, "imaps-8993.pcap"), 993, 8993)
    hello = tshark_fields(tls, "-d", "tcp.port==8993,tls", "-Y",
                          "tls.handshake.type == 1", "-T", "fields", "-e",
                          "tcp.dstport", "-e",
                          "tls.handshake.extensions_server_name", "-e",
                          "tls.handshake.extensions_alpn_str")
    ok(len(hello) == 1 and hello[0][0] == "8993" and hello[0][2] == "",
       "tshark: one ClientHello to 8993, without ALPN (%s)" % hello)
    sni = hello[0][1] if hello else None
    _, evs = run(files=[tls])
    ok(not sessions(evs), "TLS without ALPN on 8993: not IMAPS by default "
       "(no session event)")
    _, evs = run("--imaps-ports", "993,8993", files=[tls])
    s = sessions(evs)
    ok(len(s) == 1 and s[0]["event_type"] == "imap" and
       s[0]["imap"]["mode"] == "implicit_tls" and s[0]["dest_port"] == 8993
       and s[0]["tls"].get("sni") == sni,
       "--imaps-ports 993,8993: the session on 8993 is implicit TLS IMAP, "
       "SNI %s as tshark reads it" % sni)
    clear = rewrite_port(LOGIN, os.path.join(T, "clear-8143.pcap"), 143,
                         8143)
    on_port = lambda evs: [a for a in alerts(evs) if a["alert"]["signature"]
                           == "cleartext_on_imaps_port"]
    _, evs = run(files=[clear])
    ok(not on_port(evs), "cleartext IMAP on 8143: no cleartext_on_imaps_port"
       " by default")
    _, evs = run("--imaps-ports", "8143", files=[clear])
    ok(len(on_port(evs)) == 1 and on_port(evs)[0]["dest_port"] == 8143,
       "--imaps-ports 8143: cleartext IMAP there is cleartext_on_imaps_port")


def epoch_us(ts):
    """Our "2026-11-29T04:57:34.491076+0000" as microseconds."""
    t = calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
    return t * 10**6 + int(ts[20:26])


def bruteforce():
    """--bruteforce N/SECS on dovecot's 12 failed LOGINs (tshark gives the
    time of each NO [AUTHENTICATIONFAILED]): the first auth_bruteforce
    comes with the failure that first makes N within SECS, and never when
    no window holds N."""
    pcap = os.path.join(ROOT, "pcaps", "dovecot-bruteforce.pcap")
    rows = tshark_fields(pcap, "-Y", "imap.response", "-T", "fields", "-e",
                         "frame.time_epoch", "-e", "tcp.dstport", "-e",
                         "imap.response")
    fails = sorted((int(round(float(t) * 10**6)), int(port))
                   for t, port, resp in rows
                   if re.search(r"\bNO \[AUTHENTICATIONFAILED\]", resp))
    ok(len(fails) == 12, "tshark: 12 failed logins (%d)" % len(fails))
    for n, secs in ((10, 60), (3, 2), (12, 5), (12, 3), (13, 60)):
        first = next((fails[i] for i in range(n - 1, len(fails))
                      if fails[i][0] - fails[i - n + 1][0] <=
                      secs * 10**6), None)
        opt = [] if (n, secs) == (10, 60) else ["--bruteforce",
                                                "%d/%d" % (n, secs)]
        _, evs = run(*opt, files=[pcap])
        bf = [a for a in alerts(evs)
              if a["alert"]["signature"] == "auth_bruteforce"]
        what = "--bruteforce %d/%d%s" % (n, secs, "" if opt else
                                         " (the default)")
        if first is None:
            ok(not bf, "%s: no window holds %d failures, no auth_bruteforce"
               % (what, n))
            continue
        ok(bf and epoch_us(bf[0]["timestamp"]) == first[0] and
           bf[0]["src_port"] == first[1] and
           (bf[0]["imap"].get("count"), bf[0]["imap"].get("window")) ==
           (n, secs),
           "%s: auth_bruteforce at failure %d of the window, client port %d"
           % (what, n, first[1]),
           "got %s" % [(a["timestamp"], a["src_port"]) for a in bf[:2]])


def main():
    try:
        if iwtest.need_corpus("suppressions on a Thunderbird capture"):
            suppression()
        bad_suppress_files()
        once_per_server()
        every_key()
        config_overrides()
        config_errors()
        verify_checksums()
        closed_timeout()
        imaps_ports()
        bruteforce()
    finally:
        shutil.rmtree(T, ignore_errors=True)
    return iwtest.exit_status()


if __name__ == "__main__":
    sys.exit(main())
