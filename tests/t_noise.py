#!/usr/bin/python3
"""Noise control on real captures: --suppress (by finding id, server,
client, user), --alert-once-per-server, and the --config file with the
command line winning over it.

Each suppression case is checked against the same run without rules: the
alerts written must be exactly the unsuppressed run's minus those the rule
matches (matched here, in Python, independently of the C code); the
session events keep every finding and list the suppressed ones; the stats
event counts them by id.

Captures: ../shared/corpus/bruteshark (three Thunderbird sessions to one
server, read in place) and the project's dovecot captures in pcaps/.
Prints ok/not ok/skip lines (tests/run.sh).  Environment: IMAPWATCH,
IW_SHARED.
"""

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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IW = os.path.abspath(os.environ.get("IMAPWATCH") or
                     os.path.join(ROOT, "imapwatch"))
SHARED = os.environ.get("IW_SHARED") or os.path.join(ROOT, "..", "shared")
CORPUS = os.path.join(SHARED, "corpus")
TB = os.path.join(CORPUS, "bruteshark", "IMAP - Authenticate Plain (Base64).pcap")
LOGIN = os.path.join(ROOT, "pcaps", "dovecot-cleartext-login.pcap")
V6 = os.path.join(ROOT, "pcaps", "dovecot-nostarttls-ipv6-login.pcap")
DOVECOT = sorted(glob.glob(os.path.join(ROOT, "pcaps", "dovecot-*.pcap")))
POSTURE = {"logindisabled_missing", "starttls_not_offered",
           "cleartext_on_imaps_port", "weak_cipher", "obsolete_tls_version",
           "no_forward_secrecy", "cert_name_mismatch", "cert_expired",
           "cert_not_yet_valid", "cert_self_signed", "cert_untrusted",
           "weak_key", "weak_signature", "no_sni"}
T = tempfile.mkdtemp(prefix="iw-noise.")


def ok(cond, what):
    print(("ok - " if cond else "not ok - ") + what)
    return cond


def run(*args, files=(), rc_ok=(0,)):
    cmd = [IW]
    for f in files:
        cmd += ["-r", f]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True)
    if r.returncode not in rc_ok:
        print("# %s: exit %d: %s" % (" ".join(cmd + list(args)),
                                     r.returncode, r.stderr.strip()))
    evs = [json.loads(l) for l in r.stdout.splitlines()] \
        if r.returncode == 0 else []
    return r, evs


def write(name, text):
    path = os.path.join(T, name)
    with open(path, "w") as f:
        f.write(text)
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
        r, _ = run("--suppress", path, files=[TB], rc_ok=(1,))
        lines = r.stderr.splitlines()
        ok(r.returncode == 1 and r.stdout == "" and len(lines) == 1 and
           (path + where) in lines[0],
           "bad --suppress file (%s): exit 1, one line: %s"
           % (what, lines[0] if lines else "-"))
    r, _ = run("--suppress", "/nonexistent/sup", files=[TB], rc_ok=(1,))
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
    src = open(os.path.join(ROOT, "analyzer", "main.c")).read()
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
        "report": os.path.join(T, "all-keys.html"),
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
    r = subprocess.run([IW, "--config", path, "-r", LOGIN],
                       capture_output=True, text=True)
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
""" % (TB, out_conf, sup))
    out = os.path.join(T, "from-cmdline.json")
    r = subprocess.run([IW, "--config", conf, "-r", LOGIN, "-o", out],
                       capture_output=True, text=True)
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
        r = subprocess.run([IW, "--config", path, "-r", LOGIN],
                           capture_output=True, text=True)
        lines = r.stderr.splitlines()
        ok(r.returncode == 1 and r.stdout == "" and len(lines) == 1 and
           (path + where) in lines[0],
           "bad config (%s): exit 1, one line: %s"
           % (what, lines[0] if lines else "-"))
    r = subprocess.run([IW, "--config", "/nonexistent.conf", "-r", LOGIN],
                       capture_output=True, text=True)
    ok(r.returncode == 1 and "/nonexistent.conf" in r.stderr,
       "missing --config file: exit 1")
    r = subprocess.run([IW, "--config", os.path.join(ROOT, "contrib",
                        "imapwatch.conf.sample"), "-r", LOGIN, "-o",
                        os.path.join(T, "sample.json")],
                       capture_output=True, text=True)
    ok(r.returncode == 0, "contrib/imapwatch.conf.sample is accepted "
       "(with -r and -o on the command line) %s" % r.stderr.strip())
    r, _ = run("--suppress", os.path.join(ROOT, "contrib", "suppress.sample"),
               files=[LOGIN])
    ok(r.returncode == 0, "contrib/suppress.sample is accepted")


def main():
    if not os.path.exists(TB):
        print("skip - noise control: %s not found" % TB)
        return 0
    try:
        suppression()
        bad_suppress_files()
        once_per_server()
        every_key()
        config_overrides()
        config_errors()
    finally:
        shutil.rmtree(T, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
