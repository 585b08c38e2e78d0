#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The correlator's memory in a real redis-server (Debian's), started here
on a Unix socket and 127.0.0.1 with a random port, no persistence.

  1. Sensors in turn: two imapwatch processes, each given one part of a
     scenario (the project's dovecot captures split by connection here),
     one after the other against the same Redis, raise the finding exactly
     once between them: stripping, cert_changed, brute force (6 + 6
     failed logins of 12).  The second part alone, in memory, does not.
  2. A sensor stopped and started again (the same --config) between the
     two sessions of the stripping scenario still raises it.
  3. Sensors racing: two processes at once on the same new leaf key, or
     on the same twelve failed logins, raise it once between them.
  4. redis-server killed mid-run and started again, imapwatch reading a
     paced stream on standard input: no crash, no event lost (the same as
     a run in memory), one anomaly, the counters say what happened, and
     what was learnt meanwhile is written back.
  5. A flood of servers seen once stays within --state-cap; a server
     established before it is still known (stripping fires), one seen
     once is pushed out (it does not); in Redis and in memory.
  6. The password: from the config file or a --state-password-file of
     mode 0600, never from the command line or a file others can read; a
     wrong one is an outage said in words without it; no output, error or
     stats holds it in any form.
  7. Redis unreachable from the start; malformed --state; keys versioned
     with TTLs as configured.
  8. Every capture of pcaps/ and ../shared/corpus/ gives the same events
     with and without Redis (multisets, stats aside).

Prints ok/not ok/skip lines.  Environment: IMAPWATCH, IW_SHARED.
"""

import base64
import collections
import concurrent.futures
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "sinks"))
sys.path.insert(0, os.path.join(ROOT, "tests", "state"))
import collectors  # noqa: E402
import pcaptools as P  # noqa: E402

IW = os.path.abspath(os.environ.get("IMAPWATCH") or
                     os.path.join(ROOT, "imapwatch"))
SHARED = os.environ.get("IW_SHARED") or os.path.join(ROOT, "..", "shared")
PCAPS = os.path.join(ROOT, "pcaps")
PASSWORD = "Redis-Secret-5x7Q"
T = tempfile.mkdtemp(prefix="iw-state.")
SECRETS = [PASSWORD, "not-the-password-41"]
ALL_OUTPUT = []			# every stdout and stderr, for the secret grep


def ok(cond, what):
    print(("ok - " if cond else "not ok - ") + what)
    return cond


# ---- Redis ----

class Redis:
    def __init__(self, name, password=None):
        self.dir = os.path.join(T, name)
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "redis.sock")
        self.port = collectors.free_port()
        self.password = password
        self.proc = None

    def start(self):
        argv = [collectors.REDIS_SERVER, "--port", str(self.port), "--bind",
                "127.0.0.1", "--unixsocket", self.sock, "--unixsocketperm",
                "700", "--save", "", "--appendonly", "no", "--dir",
                self.dir, "--daemonize", "no", "--logfile", ""]
        if self.password:
            argv += ["--requirepass", self.password]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if not collectors.wait_for(self._ping, 15):
            raise RuntimeError("redis-server did not start")

    def _ping(self):
        try:
            return self.cmd("PING") == "PONG"
        except (OSError, EOFError, RuntimeError):
            return False

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def cmd(self, *args):
        c = collectors.Resp(self.port)
        try:
            if self.password:
                c.cmd("AUTH", self.password)
            return c.cmd(*args)
        finally:
            c.close()

    def state(self, prefix):
        """--state on the Unix socket with this prefix."""
        return "unix:%s/%s" % (self.sock, prefix)

    def keys(self, pattern):
        out, cursor = [], "0"
        while True:
            cursor, got = self.cmd("SCAN", cursor, "MATCH", pattern,
                                   "COUNT", 1000)
            out += [k.decode() for k in got]
            cursor = cursor.decode()
            if cursor == "0":
                return out


# ---- running imapwatch ----

def run(files, *args, stdin=None):
    argv = [IW]
    for f in files:
        argv += ["-r", f]
    r = subprocess.run(argv + list(args), input=stdin, capture_output=True,
                       timeout=300)
    out, err = r.stdout.decode("utf-8", "replace"), \
        r.stderr.decode("utf-8", "replace")
    ALL_OUTPUT.append(out + err)
    evs = [json.loads(l) for l in out.splitlines() if l.strip()]
    return r.returncode, evs, err


def alerts(evs, sig):
    return [e for e in evs if e["event_type"] == "alert" and
            e["alert"]["signature"] == sig]


def stats(evs):
    st = [e for e in evs if e["event_type"] == "stats"]
    return st[-1]["stats"] if st else {}


def state_anomalies(evs):
    return [e for e in evs if e["event_type"] == "anomaly" and
            e["anomaly"].get("event") == "state_backend_unreachable"]


def multiset(evs):
    """The events but stats and the state anomaly, as a multiset."""
    skip = [id(e) for e in state_anomalies(evs)]
    return collections.Counter(
        json.dumps(e, sort_keys=True) for e in evs
        if e["event_type"] != "stats" and id(e) not in skip)


def pcap(name, pkts):
    path = os.path.join(T, name + ".pcap")
    P.write(path, pkts)
    return path


def split(capture, port, pick):
    """Two pcaps of a capture: the connections pick() puts first, the
    others; in time order each."""
    pk = P.read(os.path.join(PCAPS, capture))
    conns = P.connections(pk, port)
    first = pick(conns)
    name = capture[:-5]
    return (pcap(name + "-a", P.only(pk, port, first)),
            pcap(name + "-b", P.only(pk, port, [c for c in conns
                                                if c not in first])))


def first_half(conns):
    return conns[:len(conns) // 2]


def every_other(conns):
    return conns[0::2]


# ---- 1, 2: sensors in turn, a sensor restarted ----

SCENARIOS = [
    ("stripping", "dovecot-starttls-stripped.pcap", 143, first_half,
     "starttls_stripping_suspected"),
    ("cert_changed", "dovecot-cert-changed.pcap", 993, first_half,
     "cert_changed"),
    ("brute force (6 + 6 failures)", "dovecot-bruteforce.pcap", 143,
     every_other, "auth_bruteforce"),
]


def sensors_in_turn(rd):
    for what, capture, port, pick, sig in SCENARIOS:
        a, b = split(capture, port, pick)
        st = rd.state("turn-" + sig)
        _, ea, _ = run([a], "--state", st)
        rc, eb, _ = run([b], "--state", st)
        _, whole, _ = run([os.path.join(PCAPS, capture)])
        _, alone, _ = run([b])
        got = alerts(ea, sig) + alerts(eb, sig)
        ok(rc == 0 and len(got) == 1 and len(alerts(whole, sig)) == 1 and
           alerts(eb, sig) and not alerts(alone, sig),
           "%s: two sensors in turn raise %s once between them (%d; "
           "the whole capture in one: %d; the second part alone in "
           "memory: %d)" % (what, sig, len(got), len(alerts(whole, sig)),
                            len(alerts(alone, sig))))
        if not got:
            continue
        al = got[0]
        sess = [e for e in eb if e["event_type"] == "imap" and
                e["flow_id"] == al["flow_id"]]
        ok(len(sess) == 1 and sig in sess[0]["imap"]["findings"] and
           sess[0]["community_id"] == al["community_id"] and
           al["timestamp"] <= sess[0]["timestamp"],
           "%s: the alert carries its session's flow_id and community_id, "
           "and the session event, written after it, lists it" % what)


def restarted(rd):
    a, b = split("dovecot-starttls-stripped.pcap", 143, first_half)
    conf = os.path.join(T, "restart.conf")
    with open(conf, "w") as f:
        f.write("state = %s\n" % rd.state("restart"))
    _, e1, _ = run([a], "--config", conf)
    rc, e2, _ = run([b], "--config", conf)
    ok(rc == 0 and not alerts(e1, "starttls_stripping_suspected") and
       len(alerts(e2, "starttls_stripping_suspected")) == 1,
       "a sensor stopped after the session offering STARTTLS and started "
       "again (same --config) still raises stripping on the next")


# ---- 3: racing ----

def race(rd):
    a, b = split("dovecot-cert-changed.pcap", 993, first_half)
    st = rd.state("race-cert")
    run([a], "--state", st)
    outs = together([[b], [b]], "--state", st)
    n = sum(len(alerts(e, "cert_changed")) for e in outs)
    ok(n == 1, "two sensors at once on the same new leaf key: cert_changed "
       "once between them (%d)" % n)
    bf = os.path.join(PCAPS, "dovecot-bruteforce.pcap")
    outs = together([[bf], [bf]], "--state", rd.state("race-bf"))
    n = sum(len(alerts(e, "auth_bruteforce")) for e in outs)
    ok(n == 1, "two sensors at once on the same twelve failed logins: "
       "auth_bruteforce once between them (%d)" % n)


def together(inputs, *args):
    with concurrent.futures.ThreadPoolExecutor(len(inputs)) as ex:
        futs = [ex.submit(run, i, *args) for i in inputs]
        return [f.result()[1] for f in futs]


# ---- 4: redis-server killed and started again ----

def stream_parts():
    """Three parts laid end to end, 2 s apart: dovecot sessions; one whose
    server is moved to 10.77.9.9 (seen only while Redis is down); more
    dovecot sessions."""
    names_a = ["dovecot-starttls-imaplib.pcap", "dovecot-bruteforce.pcap",
               "dovecot-cleartext-login.pcap"]
    names_c = ["dovecot-starttls-stripped.pcap", "dovecot-cert-changed.pcap",
               "dovecot-nostarttls-imaplib-login.pcap",
               "dovecot-login-despite-logindisabled.pcap"]
    t, parts = None, []

    def lay(pkts):
        nonlocal t
        if t is None:
            t = pkts[0][0]
        out = P.shift(pkts, t - pkts[0][0])
        t = out[-1][0] + 2000000
        return out

    parts.append(sum((lay(P.read(os.path.join(PCAPS, n)))
                      for n in names_a), []))
    moved = P.readdress(P.read(os.path.join(
        PCAPS, "dovecot-starttls-tls12.pcap")), "10.77.0.1", "10.77.9.9")
    parts.append(lay(moved))
    parts.append(sum((lay(P.read(os.path.join(PCAPS, n)))
                      for n in names_c), []))
    return parts


def killed(name):
    rd = Redis(name)
    rd.start()
    parts = stream_parts()
    whole = pcap("stream", parts[0] + parts[1] + parts[2])
    _, mem, _ = run([whole])
    out = os.path.join(T, "killed.json")
    err = open(os.path.join(T, "killed.err"), "w")
    p = subprocess.Popen([IW, "-r", "-", "--state", rd.state("killed"),
                          "-o", out], stdin=subprocess.PIPE, stderr=err)

    def feed(pkts, pace):
        for ts, orig, frame in pkts:
            p.stdin.write(P.record(ts, orig, frame))
            p.stdin.flush()
            time.sleep(pace)

    p.stdin.write(P.global_header())
    feed(parts[0], 0.002)
    time.sleep(0.5)
    rd.kill()
    feed(parts[1], 0.005)
    time.sleep(0.3)
    rd.start()
    time.sleep(1.5)
    feed(parts[2], 0.002)
    p.stdin.close()
    rc = p.wait(timeout=60)
    err.close()
    text = open(os.path.join(T, "killed.err")).read()
    ALL_OUTPUT.append(text)
    evs = [json.loads(l) for l in open(out)]
    redis = stats(evs).get("correlator", {}).get("state", {}).get("redis", {})
    ok(rc == 0 and "Sanitizer" not in text and "runtime error" not in text,
       "redis-server killed and started again mid-run: exit 0, no "
       "sanitizer report")
    ok(multiset(evs) == multiset(mem) and len(multiset(mem)) > 50,
       "no event lost: the same %d events as a run in memory (stats and "
       "the one anomaly aside)" % sum(multiset(mem).values()))
    ok(len(state_anomalies(evs)) == 1 and
       text.count("deciding on this sensor's memory") == 1 and
       text.count("answering again") == 1,
       "said once: one anomaly state_backend_unreachable, one line when "
       "it went, one when it came back")
    wb = redis.get("writeback", {})
    ok(redis.get("outages") == 1 and redis.get("reconnects") == 1 and
       redis.get("up") is True and wb.get("written", 0) >= 1 and
       wb.get("pending") == 0 and redis.get("decided_locally", 0) >= 1,
       "stats: 1 outage, 1 reconnect, up again, %s facts written back, "
       "%s operations decided locally" % (wb.get("written"),
                                         redis.get("decided_locally")))
    key = "killed:v1:starttls:10.77.9.9|143"
    ok(rd.cmd("EXISTS", key) == 1,
       "what was learnt while Redis was down (10.77.9.9 offered STARTTLS) "
       "is in the new Redis: written back")
    rd.kill()


# ---- 5: a flood of servers ----

OFFER = "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready.\r\n"
NO_OFFER = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready.\r\n"
T0 = 1800000000 * 1000000


def flood_parts(n):
    known = P.imap_session("192.0.2.50", 41000, "10.98.0.1", T0, OFFER) + \
        P.imap_session("192.0.2.50", 41001, "10.98.0.1", T0 + 10**6, OFFER)
    once = P.imap_session("192.0.2.50", 41002, "10.98.0.2", T0 + 2 * 10**6,
                          OFFER)
    flood = []
    for i in range(n):
        flood += P.imap_session("192.0.2.51", 20000 + i, "10.99.%d.%d" %
                                (i // 250, 1 + i % 250),
                                T0 + 3 * 10**6 + i * 10000, OFFER)
    t = T0 + 3 * 10**6 + n * 10000 + 10**6
    after = P.imap_session("192.0.2.50", 41003, "10.98.0.1", t, NO_OFFER) + \
        P.imap_session("192.0.2.50", 41004, "10.98.0.2", t + 10**6,
                       NO_OFFER)
    return known, once, flood, after


def stripped(evs):
    return sorted(e["dest_ip"] for e in
                  alerts(evs, "starttls_stripping_suspected"))


def flood(rd):
    n, cap = 300, "starttls=40"
    known, once, fl, after = flood_parts(n)
    st = rd.state("flood")
    for name, part in (("known", known), ("once", once), ("flood", fl)):
        rc, evs, _ = run([pcap("flood-" + name, part)], "--state", st,
                         "--state-cap", cap)
    ev_red = stats(evs)["correlator"]["state"]["memory"]["starttls"]
    rc, evs, _ = run([pcap("flood-after", after)], "--state", st,
                     "--state-cap", cap)
    keys = [k for k in rd.keys("flood:v1:starttls:*") if "@" not in k]
    t_once = rd.cmd("ZCARD", "flood:v1:starttls:@once")
    t_est = rd.cmd("ZCARD", "flood:v1:starttls:@established")
    ok(len(keys) <= 40 and t_once <= 10 and t_est <= 30 and
       ev_red.get("redis_evictions", 0) >= n - 40,
       "Redis: %d servers seen once stay within --state-cap starttls=40 "
       "(%d keys; tiers %d seen once <= 10, %d established <= 30; %d "
       "evicted, counted)" % (n, len(keys), t_once, t_est,
                              ev_red.get("redis_evictions", 0)))
    ok(rd.cmd("ZSCORE", "flood:v1:starttls:@established",
              "flood:v1:starttls:10.98.0.1|143") is not None and
       stripped(evs) == ["10.98.0.1"],
       "Redis: the server established before the flood is still known: "
       "stripping fires for it after the flood, not for the one seen once "
       "(%s)" % stripped(evs))
    whole = pcap("flood-all", known + once + fl + after)
    rc, evs, _ = run([whole], "--state-cap", cap)
    mem = stats(evs)["correlator"]["state"]["memory"]["starttls"]
    ok(rc == 0 and stripped(evs) == ["10.98.0.1"] and mem["entries"] <= 40
       and mem["evictions"] >= n - 40,
       "memory: the same (stripping for the established server only, %d "
       "facts kept of %d, %d evicted)" % (mem["entries"], n + 2,
                                          mem["evictions"]))


# ---- 6: the password ----

def forms(pw):
    raw = pw.encode()
    out = {pw, base64.b64encode(raw).decode().rstrip("=")}
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + raw).decode()
        core = enc[((k + 2) // 3) * 4:((k + len(raw)) // 3) * 4]
        if len(core) >= 8:
            out.add(core)
    return out


def password():
    rd = Redis("auth", PASSWORD)
    rd.start()
    login = os.path.join(PCAPS, "dovecot-starttls-stripped.pcap")
    conf = os.path.join(T, "pw.conf")
    with open(conf, "w") as f:
        f.write("state = %s\nstate-password = %s\n" % (rd.state("pw"),
                                                        PASSWORD))
    os.chmod(conf, 0o600)
    rc, evs, err = run([login], "--config", conf)
    r = stats(evs).get("correlator", {}).get("state", {}).get("redis", {})
    ok(rc == 0 and r.get("up") is True and r.get("operations", 0) > 0 and
       len(alerts(evs, "starttls_stripping_suspected")) == 1,
       "password from the --config file (state-password): Redis answers "
       "(%s operations)" % r.get("operations"))
    pwf = os.path.join(T, "pw.file")
    with open(pwf, "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(pwf, 0o600)
    rc, evs, err = run([login], "--state", rd.state("pwf"),
                       "--state-password-file", pwf)
    r = stats(evs).get("correlator", {}).get("state", {}).get("redis", {})
    ok(rc == 0 and r.get("up") is True and r.get("operations", 0) > 0,
       "password from --state-password-file (mode 0600)")
    os.chmod(pwf, 0o640)
    rc, evs, err = run([login], "--state", rd.state("pwf"),
                       "--state-password-file", pwf)
    ok(rc == 1 and not evs and err.count("\n") == 1 and "600" in err,
       "a password file others may read is refused: exit 1, one line: %s"
       % err.strip())
    rc, evs, err = run([login], "--state", rd.state("pwf"),
                       "--state-password", PASSWORD)
    ok(rc == 1 and not evs and "--config" in err,
       "--state-password on the command line is refused: %s" % err.strip())
    with open(conf, "w") as f:
        f.write("state = %s\nstate-password = %s\n" % (rd.state("pw"),
                                                        SECRETS[1]))
    rc, evs, err = run([login], "--config", conf)
    r = stats(evs).get("correlator", {}).get("state", {}).get("redis", {})
    ok(rc == 0 and r.get("up") is False and r.get("outages") == 1 and
       len(state_anomalies(evs)) == 1 and "WRONGPASS" in err and
       len(alerts(evs, "starttls_stripping_suspected")) == 1,
       "a wrong password: an outage said in words (%s), decided in "
       "memory" % err.strip()[:120])
    rd.kill()


def no_secret():
    text = "\n".join(ALL_OUTPUT)
    found = [f for pw in SECRETS for f in forms(pw) if f in text]
    ok(not found, "no output, error or stats of this test holds a Redis "
       "password, in clear or base64 (%d runs)" % len(ALL_OUTPUT))


# ---- 7: unreachable, malformed, keys ----

def unreachable():
    login = os.path.join(PCAPS, "dovecot-starttls-stripped.pcap")
    rc, evs, err = run([login], "--state",
                       "unix:" + os.path.join(T, "none", "redis.sock"))
    _, mem, _ = run([login])
    r = stats(evs)["correlator"]["state"]["redis"]
    ok(rc == 0 and err.count("\n") == 1 and len(state_anomalies(evs)) == 1
       and multiset(evs) == multiset(mem) and r["outages"] == 1 and
       r["up"] is False and r["writeback"]["pending"] > 0,
       "Redis unreachable from the start: the run goes on in memory, the "
       "same events, one line, one anomaly, facts kept for writing back "
       "(%d)" % r["writeback"]["pending"])


def malformed():
    login = os.path.join(PCAPS, "dovecot-starttls-stripped.pcap")
    for spec in ("redis://user:pw-in-url@127.0.0.1:6379/x", "unix:relative",
                 "redis://127.0.0.1:99999/x", "redis:///x",
                 "unix:/tmp/bad prefix!", "redis://127.0.0.1/a:b",
                 "memcached://127.0.0.1"):
        rc, evs, err = run([login], "--state", spec)
        ok(rc == 1 and not evs and err.count("\n") == 1 and
           "pw-in-url" not in err,
           "--state %s: exit 1, one line, nothing written" % spec)
    for opt, val in (("--state-ttl", "leaf=0"), ("--state-ttl", "certs=5"),
                     ("--state-cap", "starttls"), ("--state-timeout", "0")):
        rc, evs, err = run([login], opt, val)
        ok(rc == 1 and not evs and err.count("\n") == 1,
           "%s %s: exit 1, one line" % (opt, val))


def keys_and_ttls(rd):
    st = rd.state("ttl")
    run([os.path.join(PCAPS, "dovecot-starttls-stripped.pcap"),
         os.path.join(PCAPS, "dovecot-cert-changed.pcap"),
         os.path.join(PCAPS, "dovecot-bruteforce.pcap")], "--state", st,
        "--state-ttl", "starttls=1234,leaf=2345", "--bruteforce", "20/90",
        "--alert-once-per-server")
    ks = rd.keys("ttl:*")
    ttl = {k: rd.cmd("TTL", k) for k in ks}
    want = {"ttl:v1:starttls:10.77.0.1|143": (1, 1234),
            "ttl:v1:leaf:10.77.0.1|993|imap.example.test": (1, 2345),
            "ttl:v1:authfail:10.77.0.2": (86400 - 60, 86400)}
    bad = [k for k, (lo, hi) in want.items()
           if not (lo <= ttl.get(k, -2) <= hi)]
    ok(not bad and ks and all(k.startswith("ttl:v1:") for k in ks) and
       all(t > 0 for t in ttl.values()) and
       any(k.startswith("ttl:v1:once:10.77.0.1|143|") and
           k.endswith("|2026-11-29") for k in ks),
       "keys carry the schema version and a TTL each, as --state-ttl says "
       "(%d keys; wrong: %s)" % (len(ks), ", ".join(bad) or "none"))
    h = rd.cmd("HGETALL", "ttl:v1:leaf:10.77.0.1|993|imap.example.test")
    fields = dict(zip(h[0::2], h[1::2])) if h else {}
    ok(fields.get(b"n") == b"2" and fields.get(b"check") == b"match" and
       len(fields.get(b"key", b"")) == 64 and
       int(fields.get(b"last", b"0")) > int(fields.get(b"first", b"0")),
       "the leaf fact holds the key, the name check, two sessions and "
       "their packet times")


# ---- 8: the same events with and without Redis ----

def captures():
    out = []
    for path in sorted(glob.glob(os.path.join(PCAPS, "*.expect.json"))):
        exp = json.load(open(path))
        out.append((os.path.join(PCAPS, exp["capture"]),
                    exp.get("options", [])))
    seen = {c for c, _ in out}
    for path in sorted(glob.glob(os.path.join(PCAPS, "*.pcap*")) +
                       glob.glob(os.path.join(PCAPS, "edge", "*.pcap")) +
                       glob.glob(os.path.join(SHARED, "corpus", "**",
                                              "*.pcap*"), recursive=True)):
        if path not in seen and path.endswith((".pcap", ".pcapng")):
            out.append((path, []))
    return out


def same_events(rd):
    jobs = [([c], opts + extra) for c, opts in captures()
            for extra in (["--all-tls", "--flows"], ["--bruteforce", "3/60"])]
    dovecot = sorted(glob.glob(os.path.join(PCAPS, "dovecot-*.pcap")))
    jobs.append((dovecot, ["--alert-once-per-server", "--bruteforce",
                           "4/30"]))

    def one(i):
        files, opts = jobs[i]
        rc1, mem, _ = run(files, *opts)
        rc2, red, _ = run(files, *opts, "--state", rd.state("eq%d" % i))
        r = stats(red).get("correlator", {}).get("state", {}).get("redis",
                                                                   {})
        return rc1 == rc2 and multiset(mem) == multiset(red) and \
            r.get("failures") == 0, sum(multiset(mem).values())

    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        res = list(ex.map(one, range(len(jobs))))
    for (files, opts), (good, n) in zip(jobs, res):
        name = os.path.relpath(files[0], ROOT) \
            if len(files) == 1 else "%d dovecot captures at once" % len(files)
        ok(good, "same events with and without Redis: %s %s (%d)"
           % (name, " ".join(opts), n))


def main():
    if not os.path.exists(collectors.REDIS_SERVER):
        print("skip - the shared state tests (redis-server is not "
              "installed)")
        return 0
    if not os.access(IW, os.X_OK):
        print("skip - t_state_redis: %s is not built" % IW)
        return 0
    try:
        rd = Redis("main")
        rd.start()
        try:
            sensors_in_turn(rd)
            restarted(rd)
            race(rd)
            flood(rd)
            keys_and_ttls(rd)
            same_events(rd)
        finally:
            rd.kill()
        killed("killed")
        password()
        unreachable()
        malformed()
        no_secret()
    finally:
        if os.environ.get("IW_KEEP"):
            print("# kept " + T)
        else:
            shutil.rmtree(T, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
