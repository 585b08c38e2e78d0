#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""--report FILE.html in a real browser (headless Chromium, run as a
program: a fresh profile, the DOM it built dumped with --dump-dom, its
console read from its log, a screenshot kept under $IW_BUILD/report/).

1. The captures of `make run`: every figure of the page as Chromium
   built it (counts, sessions by mode, alerts by severity, passwords sent
   in clear, each finding and its connections, each server with its
   sessions and findings, the TLS charts, the timeline) equals what the
   events of the same run say; no console message (the style's hash in
   the Content-Security-Policy matches, nothing is blocked); user names
   as --usernames says.
2. A hostile capture made here with scapy: <script>, "><img onerror>,
   </style>, javascript: links, NUL and a bidi override in the greeting,
   the SNI, the user name and the certificate's names.  The attack must
   reach the events (or the test proves nothing); on the page it is text:
   no element or attribute it could have made, no script ran (the
   payloads would rename the document), no console message; the same
   without the CSP (the escaping alone holds); and the CSP alone stops an
   injection made on purpose (in case the escaping ever fails).
3. Bounds: 1100 sessions to 130 servers: tables cut at 50 rows, 10
   connections a finding, 1000 sessions on the timeline, each cut said.

Prints ok/not ok/skip lines.  Environment: IMAPWATCH, IW_BUILD.
"""

import base64
import collections
import datetime
import hashlib
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IW = os.path.abspath(os.environ.get("IMAPWATCH") or
                     os.path.join(ROOT, "imapwatch"))
BUILD = os.environ.get("IW_BUILD") or os.path.join(ROOT, "build")
KEEP = os.path.join(BUILD, "report")
T = tempfile.mkdtemp(prefix="iw-report.")
CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-extensions",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]
PASSWORD = "pw-S3cr3t<b>&'"
ROWS, CONNECTIONS, TIMELINE = 50, 10, 1000
MODES = {"cleartext": 0, "starttls": 1, "implicit_tls": 2}


def ok(cond, what):
    print(("ok - " if cond else "not ok - ") + what)
    return cond


# ---- Chromium ----

def chromium(path, *extra):
    profile = tempfile.mkdtemp(dir=T, prefix="profile.")
    r = subprocess.run([CHROMIUM] + FLAGS + ["--user-data-dir=" + profile] +
                       list(extra) + ["file://" + path],
                       capture_output=True, text=True, timeout=180)
    shutil.rmtree(profile, ignore_errors=True)
    console = [l for l in r.stderr.splitlines() if ":CONSOLE" in l]
    return r, console


def dump_dom(path):
    r, console = chromium(path, "--dump-dom")
    return parse(r.stdout), console


def screenshot(path, name, height):
    os.makedirs(KEEP, exist_ok=True)
    out = os.path.join(KEEP, name)
    if os.path.exists(out):
        os.unlink(out)
    chromium(path, "--screenshot=" + out, "--window-size=1280,%d" % height)
    return out if os.path.exists(out) else None


# ---- the DOM Chromium dumped ----

VOID = {"meta", "link", "br", "wbr", "img", "input", "hr", "col", "area",
        "base", "source", "track", "embed", "param"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children = []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text()
                       for c in self.children)

    def walk(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.walk()

    def find(self, tag=None, cls=None, **attrs):
        return [n for n in self.walk()
                if (tag is None or n.tag == tag) and
                (cls is None or cls in n.attrs.get("class", "").split()) and
                all(n.attrs.get(k.replace("_", "-")) == v
                    for k, v in attrs.items())]

    def one(self, **kw):
        found = self.find(**kw)
        return found[0] if found else Node("none", {}, None)


class Builder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#document", {}, None)

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(text):
    b = Builder()
    b.feed(text)
    b.close()
    return b.root


def num(doc, id_):
    n = doc.one(id=id_)
    return int(n.attrs["data-n"]) if "data-n" in n.attrs else None


# ---- runs ----

def run(pcaps, page, *args):
    events = os.path.join(T, os.path.basename(page) + ".json")
    r = subprocess.run([IW, "-o", events, "--report", page] + list(args) +
                       sum((["-r", p] for p in pcaps), []),
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("# exit %d: %s" % (r.returncode, r.stderr[:300]))
    evs = [json.loads(l) for l in open(events)] if os.path.exists(events) \
        else []
    return r, evs


def endpoint(ip, port):
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)


def of_type(evs, *types):
    return [e for e in evs if e["event_type"] in types]


def password_alerts(evs):
    return [a for a in of_type(evs, "alert")
            if a["alert"]["signature"] == "cleartext_login" or
            (a["alert"]["signature"] == "cleartext_auth" and
             a["alert"]["severity"] == 1)]


def when(s):
    """An event's timestamp or certificate date, with or without its
    "Z" or "+0000"."""
    s = re.sub(r"(Z|[+-]\d\d:?\d\d)$", "", s)
    return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(
        microsecond=int((s[20:26] or "0").ljust(6, "0")) if len(s) > 19
        else 0)


def short(ts):
    return ts[:19].replace("T", " ")


# ---- 1. the page says what the events say ----

def check_counts(doc, evs):
    st = of_type(evs, "stats")[-1]["stats"]
    sessions = of_type(evs, "imap", "tls")
    modes = collections.Counter(MODES.get(e.get("imap", {}).get("mode"), 3)
                                for e in sessions)
    sev = collections.Counter(a["alert"]["severity"]
                              for a in of_type(evs, "alert"))
    servers = {endpoint(e["dest_ip"], e["dest_port"]) for e in sessions}
    types = collections.Counter(e["event_type"] for e in evs)
    got = {"packets": num(doc, "n-packets"),
           "sessions": num(doc, "n-sessions"),
           "modes": {m: num(doc, "n-mode-%d" % m) for m in modes},
           "high": num(doc, "n-alerts-high"),
           "medium": num(doc, "n-alerts-medium"),
           "low": num(doc, "n-alerts-low"),
           "passwords": num(doc, "n-passwords"),
           "servers": num(doc, "n-servers"),
           "events": {t: num(doc, "n-ev-" + t) for t in types}}
    want = {"packets": st["capture"]["packets"],
            "sessions": sum(v for k, v in modes.items() if k < 3),
            "modes": dict(modes), "high": sev[1], "medium": sev[2],
            "low": sev[3], "passwords": len(password_alerts(evs)),
            "servers": len(servers), "events": dict(types)}
    ok(got == want, "page: packets, sessions by mode, alerts by severity, "
       "passwords in clear, servers and events by type are the events' %s"
       % ({k: (got[k], want[k]) for k in got if got[k] != want[k]} or
          want))
    span = doc.one(id="span").text()
    first, last = st["capture"]["first_packet"], st["capture"]["last_packet"]
    ok(short(first) in span and short(last)[11:] in span,
       "page: the capture's span is the stats event's (%s)" % span[:80])


def conn_rows(node):
    return [[td.text().strip() for td in tr.find(tag="td")]
            for tr in node.find(tag="tr", cls="conn")]


def check_findings(doc, evs):
    alerts = of_type(evs, "alert")
    by = collections.defaultdict(list)
    for a in alerts:
        by[a["alert"]["signature"]].append(a)
    got = {n.attrs["id"][2:]: int(n.attrs["data-alerts"])
           for n in doc.find(tag="div", cls="finding")}
    ok(got == {k: len(v) for k, v in by.items()},
       "page: one section a finding, with its alert count (%d findings, %d "
       "alerts)" % (len(by), len(alerts)))
    bad = []
    for fid, al in by.items():
        want = [[short(a["timestamp"]), endpoint(a["src_ip"], a["src_port"]),
                 endpoint(a["dest_ip"], a["dest_port"]),
                 a.get("imap", {}).get("username") or "\u2013"]
                for a in al[:CONNECTIONS]]
        rows = [r[:4] for r in conn_rows(doc.one(id="f-" + fid))]
        sev = int(doc.one(id="f-" + fid).attrs.get("data-severity", 0))
        if rows != want or sev != min(a["alert"]["severity"] for a in al):
            bad.append(fid)
    ok(not bad, "page: each finding's severity and first connections (time,"
       " client, server, user) are its alerts' %s" % bad)
    rows = [[td.text().strip() for td in tr.find(tag="td")][:4]
            for tr in doc.find(tag="tr", cls="cred")]
    want = [[short(a["timestamp"]), endpoint(a["src_ip"], a["src_port"]),
             endpoint(a["dest_ip"], a["dest_port"]),
             a["imap"].get("username") or "\u2013"]
            for a in password_alerts(evs)[:ROWS]]
    ok(rows == want, "page: passwords sent in clear are the cleartext_login "
       "and severity-1 cleartext_auth alerts (%d)" % len(want))


def check_servers(doc, evs):
    want = {}
    for e in of_type(evs, "imap", "tls"):
        s = want.setdefault(endpoint(e["dest_ip"], e["dest_port"]),
                            [0, collections.Counter()])
        s[0] += 1
        s[1].update(e[e["event_type"]].get("findings", []))
    got = {}
    for tr in doc.find(tag="tr", cls="srv"):
        got[tr.attrs["data-addr"]] = [
            int(tr.attrs["data-sessions"]),
            collections.Counter({t.attrs["data-id"]: int(t.attrs["data-n"])
                                 for t in tr.find(cls="tag")})]
    ok(got == want, "page: the servers table has every server with its "
       "sessions and its findings by sessions (%d servers)" % len(want))
    want_days, got_days = {}, {}
    for e in of_type(evs, "imap", "tls"):
        t = e.get("tls", {})
        addr = endpoint(e["dest_ip"], e["dest_port"])
        if "notafter" in t and addr not in want_days:
            left = when(t["notafter"]) - when(e["timestamp"])
            # whole days left, or whole days since it expired (negative)
            want_days[addr] = left.days if left.days >= 0 else \
                -(-left).days
    for tr in doc.find(tag="tr", cls="srv"):
        d = tr.find(cls="days")
        if d:
            got_days[tr.attrs["data-addr"]] = int(d[0].attrs["data-days"])
    ok(got_days == want_days and want_days, "page: each certificate's days "
       "left at the first session that showed it, as Python counts them "
       "from the events %s" % want_days)


def check_charts(doc, evs):
    bad = []
    for chart, field in (("chart-versions", "version"),
                         ("chart-suites", "cipher")):
        want = collections.Counter(e["tls"][field]
                                   for e in of_type(evs, "imap", "tls")
                                   if field in e.get("tls", {}))
        got = {g.attrs["data-name"]: int(g.attrs["data-n"])
               for g in doc.one(id=chart).find(tag="g", cls="row")}
        if got != dict(want):
            bad.append((chart, got, dict(want)))
    ok(not bad, "page: the TLS version and suite charts count the sessions' "
       "tls.version and tls.cipher %s" % bad)
    svg = doc.one(id="timeline-svg")
    ok(len(svg.find(tag="rect")) == len(of_type(evs, "imap", "tls")) and
       len(svg.find(tag="path")) == len(of_type(evs, "alert")),
       "page: the timeline draws every session and every alert (%d, %d)"
       % (len(svg.find(tag="rect")), len(svg.find(tag="path"))))


def run_pcaps():
    r = subprocess.run(["make", "-s", "--no-print-directory", "--eval",
                        "iw-print-run-pcaps: ; @echo $(RUN_PCAPS)",
                        "iw-print-run-pcaps"], cwd=ROOT,
                       capture_output=True, text=True)
    return [os.path.join(ROOT, "pcaps", n + ".pcap")
            for n in r.stdout.split()]


def figures():
    pcaps = run_pcaps()
    page = os.path.join(T, "report.html")
    r, evs = run(pcaps, page)
    ok(r.returncode == 0 and os.path.exists(page) and
       oct(os.stat(page).st_mode & 0o777) == "0o640",
       "--report writes the page, mode 0640 (%d captures of make run)"
       % len(pcaps))
    doc, console = dump_dom(page)
    ok(doc.one(tag="title").text() == "imapwatch report" and
       doc.find(tag="tr", cls="srv"), "Chromium renders the page")
    ok(not console, "no console message: the style's hash matches the CSP, "
       "nothing was blocked %s" % console[:2])
    check_counts(doc, evs)
    check_findings(doc, evs)
    check_servers(doc, evs)
    check_charts(doc, evs)
    shot = screenshot(page, "report.png", 3700)
    ok(shot is not None, "screenshot kept: %s" % shot)
    print("# screenshot: %s" % shot)
    usernames(pcaps)
    ecs = os.path.join(T, "ecs.html")
    run(pcaps, ecs, "--format", "ecs")
    ok(open(ecs, "rb").read() == open(page, "rb").read(),
       "--format ecs: the same page (it reads the events before ECS "
       "renames them)")


def usernames(pcaps):
    page = os.path.join(T, "omit.html")
    run(pcaps, page, "--usernames", "omit")
    text = parse(open(page).read()).text()
    page2 = os.path.join(T, "hash.html")
    _, evs = run(pcaps, page2, "--usernames", "hash", "--username-salt", "s")
    hashed = {a["imap"]["username"] for a in password_alerts(evs)}
    text2 = parse(open(page2).read()).text()
    ok("alice" not in text and "alice" not in text2 and hashed and
       all(h in text2 for h in hashed),
       "user names as --usernames says: omit shows none, hash shows the "
       "events' hashes")


# ---- 2. a hostile capture ----

GREETING = ("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] "
            "<script>document.title='pwned-greeting'</script>"
            "\"><img src=x onerror=\"document.title='pwned-img'\">"
            "</style><a href=\"javascript:document.title='pwned-js'\">x</a>"
            " \u202eevil\x1b[2J\r\n")
USER = ("<script>document.title='pwned-user'</script>"
        "\"><svg onload=\"document.title='pwned-svg'\">")
SNI = (b"<script>document.title='pwned-sni'</script>\"><img src=x "
       b"onerror=alert(1)>\x00.evil")
CN = "<script>document.title='pwned-cn'</script>"
ORG = "\"><img src=x onerror=\"document.title='pwned-o'\">"
SAN = "</style><script>document.title='pwned-san'</script>"


def display(s):
    """A string from an event as the page must show it: NUL as U+2400,
    controls and bidirectional formatting characters as U+FFFD."""
    out = []
    for ch in s:
        o = ord(ch)
        if o == 0:
            out.append("\u2400")
        elif o < 0x20 or 0x7f <= o <= 0x9f or o in (0x61c, 0x200e, 0x200f) \
                or 0x202a <= o <= 0x202e or 0x2066 <= o <= 0x2069:
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def imap_quoted(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def make_cert():
    key, pem, der = (os.path.join(T, n) for n in ("k.pem", "c.pem",
                                                   "c.der"))
    subj = "/CN=%s/O=%s" % (CN.replace("/", "\\/"), ORG.replace("/", "\\/"))
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", pem, "-days", "30", "-subj",
                        subj, "-addext", "subjectAltName=DNS:" + SAN],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("# openssl: " + r.stderr[:300])
        return None
    subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER", "-out",
                    der], check=True)
    return open(der, "rb").read()


def hs(kind, body):
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


def record(kind, body):
    return bytes([kind, 3, 3]) + len(body).to_bytes(2, "big") + body


def client_hello():
    name = len(SNI).to_bytes(2, "big") + SNI
    sni = b"\x00" + name
    ext = (0).to_bytes(2, "big") + (len(sni) + 2).to_bytes(2, "big") + \
        len(sni).to_bytes(2, "big") + sni
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x04\xc0\x2f\x00\x9c" + \
        b"\x01\x00" + len(ext).to_bytes(2, "big") + ext
    return record(22, hs(1, body))


def server_flight(der):
    hello = b"\x03\x03" + bytes(range(32)) + b"\x00\xc0\x2f\x00\x00\x00"
    certs = len(der).to_bytes(3, "big") + der
    cert = len(certs).to_bytes(3, "big") + certs
    return record(22, hs(2, hello) + hs(11, cert) + hs(14, b""))


class Tcp:
    """One TCP connection's packets, built with scapy."""

    def __init__(self, pkts, c, s, cport, sport, t):
        self.pkts, self.c, self.s = pkts, c, s
        self.cport, self.sport, self.t = cport, sport, t
        self.seq = {True: 1000, False: 5000}
        self.flag(True, "S")
        self.seq[True] += 1
        self.flag(False, "SA")
        self.seq[False] += 1
        self.flag(True, "A")

    def flag(self, from_client, flags, data=b""):
        from scapy.layers.inet import IP, TCP
        from scapy.layers.l2 import Ether
        from scapy.packet import Raw
        src, dst = (self.c, self.s) if from_client else (self.s, self.c)
        sp, dp = (self.cport, self.sport) if from_client else \
            (self.sport, self.cport)
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / \
            IP(src=src, dst=dst) / TCP(
            sport=sp, dport=dp, flags=flags, seq=self.seq[from_client],
            ack=self.seq[not from_client] if "A" in flags else 0)
        if data:
            p = p / Raw(data)
        self.t += 0.001
        p.time = self.t
        self.pkts.append(p)

    def send(self, from_client, data):
        self.flag(from_client, "PA", data)
        self.seq[from_client] += len(data)
        self.flag(not from_client, "A")

    def close(self):
        for side in (True, False):
            self.flag(side, "FA")
            self.seq[side] += 1
        self.flag(True, "A")


def hostile_pcap(path, der):
    from scapy.utils import wrpcap
    pkts = []
    c = Tcp(pkts, "192.0.2.10", "192.0.2.143", 40001, 143, 1764400000.0)
    c.send(False, GREETING.encode())
    c.send(True, ("a1 LOGIN %s %s\r\n" % (imap_quoted(USER),
                                          imap_quoted(PASSWORD))).encode())
    c.send(False, b"a1 OK LOGIN completed\r\n")
    c.send(True, b"a2 LOGOUT\r\n")
    c.send(False, b"* BYE\r\na2 OK\r\n")
    c.close()
    t = Tcp(pkts, "192.0.2.10", "192.0.2.93", 40002, 993, c.t + 1)
    t.send(True, client_hello())
    t.send(False, server_flight(der))
    t.send(True, record(22, hs(16, b"\x41" + bytes(65))) +
           record(20, b"\x01") + record(22, bytes(40)))
    t.send(False, record(20, b"\x01") + record(22, bytes(40)))
    t.send(True, record(23, bytes(60)))
    t.send(False, record(23, bytes(90)))
    t.close()
    wrpcap(path, pkts)


ALLOWED = {"#document", "html", "head", "meta", "title", "style", "body",
           "main", "header", "h1", "h2", "h3", "p", "span", "div", "nav",
           "a", "section", "table", "thead", "tbody", "tr", "th", "td",
           "code", "br", "wbr", "i", "figure", "svg", "g", "rect", "path",
           "line", "text", "footer"}


def made_by_attack(doc):
    """Elements and attributes the page never writes itself."""
    bad = []
    for n in doc.walk():
        if n.tag not in ALLOWED:
            bad.append("<%s>" % n.tag)
        for k, v in n.attrs.items():
            if k.startswith("on") or k == "style" or \
                    (k in ("href", "src", "xlink:href", "action") and
                     not (v or "").startswith("#")):
                bad.append("%s=%r on <%s>" % (k, v, n.tag))
    return bad


def check_csp(doc, page_text):
    head = [n for n in doc.one(tag="head").children if isinstance(n, Node)]
    csp = doc.one(tag="meta", http_equiv="Content-Security-Policy")
    policy = csp.attrs.get("content", "")
    styles = doc.find(tag="style")
    digest = base64.b64encode(hashlib.sha256(
        styles[0].text().encode()).digest()).decode() if styles else ""
    raw = re.search(r"<style>(.*?)</style>", page_text, re.S)
    ok(len(head) > 1 and head[1] is csp and
       "default-src 'none'" in policy and "script-src 'none'" in policy and
       "unsafe" not in policy and len(styles) == 1 and raw and
       "style-src 'sha256-%s'" % digest in policy,
       "CSP meta first after the charset: default-src and script-src "
       "'none', the one style element allowed by its SHA-256 (%s)" % policy)


def hostile():
    der = make_cert()
    try:
        import scapy  # noqa: F401
    except ImportError:
        der = None
    if der is None:
        print("skip - hostile capture (no openssl or scapy)")
        return
    pcap = os.path.join(T, "hostile.pcap")
    hostile_pcap(pcap, der)
    page = os.path.join(T, "hostile.html")
    r, evs = run([pcap], page)
    imap = [e["imap"] for e in of_type(evs, "imap") if "greeting" in
            e["imap"]]
    tls = [e["tls"] for e in of_type(evs, "imap") if "tls" in e]
    greeting = imap[0]["greeting"]["text"] if imap else ""
    users = [a["imap"]["username"] for a in of_type(evs, "alert")
             if a.get("imap", {}).get("username")]
    t = tls[0] if tls else {}
    wire = [greeting, users[0] if users else "", t.get("sni", ""),
            t.get("subject", ""), t.get("issuerdn", "")] + \
        [n[4:] if n.startswith("DNS:") else n
         for n in t.get("subjectaltname", [])]
    reached = ["<script>" in greeting and "\u202e" in greeting,
               USER in users, "<script>" in t.get("sni", ""),
               "<" in t.get("subject", "") and "pwned-cn" in
               t.get("subject", ""),
               any("<script>" in n for n in t.get("subjectaltname", []))]
    ok(all(reached), "the attack reaches the events: greeting (with a bidi "
       "override and ESC), user name, SNI, certificate subject and "
       "subjectAltName %s" % reached)
    page_text = open(page, encoding="utf-8").read()
    doc, console = dump_dom(page)
    bad = made_by_attack(doc)
    ok(not bad, "hostile: no element or attribute the strings could make "
       "(script, img, svg onload, javascript:, style) %s" % bad[:5])
    ok(doc.one(tag="title").text() == "imapwatch report" and not console,
       "hostile: no script ran (title unchanged), no console message %s"
       % console[:2])
    text = doc.text()
    missing = [w[:40] for w in wire if display(w)[:100] not in text]
    ok(len(wire) >= 6 and not missing,
       "hostile: greeting, user name, SNI, subject, issuer and "
       "subjectAltName are shown as text, controls and bidi overrides as "
       "\ufffd, NUL as \u2400 %s" % missing)
    ok("\u202e" not in text and "\x1b" not in text and
       ("\x00" not in t.get("sni", "") or "\u2400" in text),
       "hostile: no bidi override, ESC or NUL reaches the page")
    ok(PASSWORD not in page_text and PASSWORD not in text,
       "hostile: the password is nowhere on the page")
    check_csp(doc, page_text)
    no_csp = os.path.join(T, "hostile-no-csp.html")
    open(no_csp, "w", encoding="utf-8").write(re.sub(
        r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page_text))
    doc2, console2 = dump_dom(no_csp)
    ok(doc2.one(tag="title").text() == "imapwatch report" and
       not made_by_attack(doc2) and
       not doc2.find(tag="meta", http_equiv="Content-Security-Policy"),
       "hostile, the CSP taken out: the escaping alone holds")
    injected = os.path.join(T, "injected.html")
    open(injected, "w", encoding="utf-8").write(page_text.replace(
        "<main>", "<main><script>document.title='ran'</script><img src=x "
        "onerror=\"document.title='ran-img'\"><link rel=stylesheet "
        "href=\"http://192.0.2.1/x.css\"><style>body{color:red}</style>", 1))
    doc3, console3 = dump_dom(injected)
    blocked = sum("blocked" in l or "Refused" in l for l in console3)
    ok(doc3.one(tag="title").text() == "imapwatch report" and blocked >= 3,
       "the CSP alone stops a script, an event handler, an outside style "
       "sheet and an inline style injected on purpose (%d blocked)" %
       blocked)
    shot = screenshot(page, "hostile.png", 2600)
    print("# screenshot: %s" % shot)


# ---- 3. bounds ----

def bounds():
    from scapy.utils import wrpcap
    pkts = []
    t = 1764400000.0
    for i in range(1100):
        c = Tcp(pkts, "198.51.100.%d" % (1 + i % 200),
                "203.0.113.%d" % (1 + i % 130), 20000 + i, 143, t)
        c.send(False, b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n")
        c.send(True, b"a LOGIN user%d secret\r\n" % i)
        c.send(False, b"a OK\r\n")
        c.close()
        t = c.t + 0.5
    pcap = os.path.join(T, "many.pcap")
    wrpcap(pcap, pkts)
    page = os.path.join(T, "many.html")
    r, evs = run([pcap], page)
    doc, _ = dump_dom(page)
    fids = [n.attrs["id"] for n in doc.find(tag="div", cls="finding")]
    size = os.path.getsize(page)
    counts = [len(doc.find(tag="tr", cls="srv")),
              len(doc.find(tag="tr", cls="cred")),
              max(len(doc.one(id=f).find(tag="tr", cls="conn"))
                  for f in fids) if fids else 0,
              len(doc.one(id="timeline-svg").find(tag="rect"))]
    notes = doc.text()
    ok(len(of_type(evs, "imap")) == 1100 and
       counts == [ROWS, ROWS, CONNECTIONS, TIMELINE] and
       "The first 50 of 130 servers" in notes and
       "The first 50 of 1100 are listed" in notes and
       "The first 10 of 1100 connections" in notes and
       "Only the first 1000 sessions" in notes and size < 1024 * 1024,
       "bounds: 1100 sessions to 130 servers give %s rows (servers, "
       "passwords, connections a finding, timeline sessions), each cut said, "
       "%d bytes" % (counts, size))


def main():
    if CHROMIUM is None:
        print("skip - --report in Chromium (chromium not installed)")
        return
    t0 = time.time()
    figures()
    hostile()
    bounds()
    print("# %.1f s" % (time.time() - t0))


if __name__ == "__main__":
    try:
        main()
    finally:
        if not os.environ.get("IW_KEEP"):
            shutil.rmtree(T, ignore_errors=True)
    sys.exit(0)
