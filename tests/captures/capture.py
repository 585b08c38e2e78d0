#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The dovecot capture scenarios and their expectations.

Run by make-captures.sh, which has made the namespaces.  For each scenario:
start dovecot in the configuration it needs (own config file, base_dir and
log under the work directory), start tcpdump on the server's veth, drive a
real client from the client namespace, stop tcpdump, then write

    pcaps/NAME.pcap               the capture
    pcaps/NAME.expect.json        what imapwatch must report (t_pcaps.py)
    tests/captures/logs/NAME.*    the independent sources, passwords masked

Every expected value is checked here against an independent source before
it is written: tshark's TLS dissector and its "IMAP view" (the cleartext
IMAP lines of the TCP payload tshark decodes, literals taken by their
length, cross-checked against tshark 4.0's imap dissector, which does not
skip literals and shows one line per segment), the client's
own output (curl -v, openssl s_client, the python client's ssl module),
dovecot's log (auth_verbose, login lines with the client port), and
openssl x509 on the certificate the server was given.  A value the sources
contradict stops the run: expectations are never copied from imapwatch.
"""

import argparse
import base64
import contextlib
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = WORK = SRV = CLI = IFACE = None
CERTS = None
PY = "/usr/bin/python3"

SERVER4 = "10.77.0.1"
SERVER6 = "fd77::1"
CLIENT4 = "10.77.0.2"
NAME = "imap.example.test"
USER = "alice"
PW = "Wonderland-7431"
BAIT_PW = "Literal-Bait-5150"     # inside a message body (clients.py)

ABSENT = None                     # "expect": field must be absent (or null)


class Failed(Exception):
    pass


class Dropped(Exception):
    """tcpdump lost packets: the scenario is run again."""


def die(msg):
    raise Failed(msg)


def sh(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


# ------------------------------------------------------------------ catalogue

def catalogue():
    """Finding ids, from analyzer/common/findings.c (the stable catalogue)."""
    src = open(os.path.join(ROOT, "analyzer/common/findings.c")).read()
    ids = re.findall(r'\{\s*"([a-z0-9_]+)",\s*\d+,\s*[123],', src)
    if len(ids) < 20:
        die("could not read the finding ids from analyzer/common/findings.c")
    return ids


TLS_FINDINGS = {"weak_cipher", "weak_cipher_offered", "obsolete_tls_version",
                "no_forward_secrecy", "tls_handshake_failed",
                "cert_name_mismatch", "cert_expired", "cert_not_yet_valid",
                "cert_self_signed", "cert_untrusted", "weak_key",
                "weak_signature", "no_sni"}
WEAK_RE = re.compile(r"NULL|_anon_|EXPORT|RC4|_DES_|DES40|3DES|RC2|IDEA|_MD5$")

# ------------------------------------------------------------------ helpers

_STDNAME = None


def iana_name(openssl_name):
    """OpenSSL's cipher name as IANA's, by `openssl ciphers -stdname`."""
    global _STDNAME
    if _STDNAME is None:
        _STDNAME = {}
        out = sh(["openssl", "ciphers", "-stdname",
                  "ALL:COMPLEMENTOFALL:eNULL:@SECLEVEL=0"]).stdout
        for ln in out.splitlines():
            m = re.match(r"(\S+)\s+-\s+(\S+)\s", ln)
            if m:
                _STDNAME[m.group(2)] = m.group(1)
    if openssl_name.startswith("TLS_"):
        return openssl_name
    return _STDNAME.get(openssl_name, "?" + openssl_name)


def tls_version_name(s):
    m = {"TLSv1": "TLS 1.0", "TLSv1.0": "TLS 1.0", "TLSv1.1": "TLS 1.1",
         "TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3", "SSLv3": "SSL 3.0",
         0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1",
         0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
    return m.get(s, "?%s" % s)


_CIPHER_NAMES = None


def tshark_cipher_name(num):
    """tshark's own name for a cipher suite number (tshark -G values)."""
    global _CIPHER_NAMES
    if _CIPHER_NAMES is None:
        _CIPHER_NAMES = {}
        out = sh(["tshark", "-G", "values"]).stdout
        for ln in out.splitlines():
            p = ln.split("\t")
            if len(p) == 4 and p[0] == "V" and p[1] == "tls.handshake.ciphersuite":
                _CIPHER_NAMES[int(p[2], 0)] = p[3]
    return _CIPHER_NAMES.get(num, "?0x%04x" % num)


def as_int(v):
    return int(v, 0) if isinstance(v, str) else int(v)


def openssl_date(s):
    """'Dec 31 23:59:59 2049 GMT' -> '2049-12-31T23:59:59Z'."""
    d = datetime.datetime.strptime(s.replace("  ", " ").strip(),
                                   "%b %d %H:%M:%S %Y GMT")
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


class Cert:
    """Facts about a certificate file, from openssl x509."""

    def __init__(self, name):
        self.name = name
        self.path = os.path.join(CERTS, name + ".pem")
        x = lambda *a: sh(["openssl", "x509", "-in", self.path, "-noout"]
                          + list(a)).stdout.strip()
        self.subject = x("-subject", "-nameopt", "RFC2253").split("=", 1)[1]
        self.issuer = x("-issuer", "-nameopt", "RFC2253").split("=", 1)[1]
        self.notbefore = openssl_date(x("-startdate").split("=", 1)[1])
        self.notafter = openssl_date(x("-enddate").split("=", 1)[1])
        self.fingerprint = x("-fingerprint", "-sha1").split("=", 1)[1].lower()
        der = subprocess.run(["openssl", "x509", "-in", self.path, "-outform",
                              "DER"], capture_output=True).stdout
        self.der_hex = der.hex()
        text = x("-text")
        m = re.search(r"Public-Key: \((\d+) bit\)", text)
        self.key_bits = int(m.group(1))
        self.key_type = "EC" if "id-ecPublicKey" in text else "RSA"
        self.sig_alg = re.search(r"Signature Algorithm: (\S+)", text).group(1)
        self.epoch_before = datetime.datetime.strptime(
            self.notbefore, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        self.epoch_after = datetime.datetime.strptime(
            self.notafter, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        r = sh(["openssl", "verify", "-no_check_time", "-CAfile", self.path,
                self.path])
        self.self_signed = (self.subject == self.issuer
                            and r.returncode == 0)

    def checkhost(self, host):
        out = sh(["openssl", "x509", "-in", self.path, "-noout",
                  "-checkhost", host]).stdout
        return "does match" in out

    def trusted_by(self, ca, at):
        chain = os.path.join(CERTS, self.name + ".chain.pem")
        r = sh(["openssl", "verify", "-attime", str(int(at)), "-CAfile",
                os.path.join(CERTS, ca + ".pem"), "-untrusted", chain,
                self.path])
        return r.returncode == 0


# ------------------------------------------------------------------ tshark

def tshark_json(pcap, decode_as, display, fields):
    argv = ["tshark", "-r", pcap, "-n"]
    for d in decode_as:
        argv += ["-d", d]
    if display:
        argv += ["-Y", display]
    argv += ["-T", "json"]
    for f in fields:
        argv += ["-e", f]
    r = sh(argv)
    if r.returncode != 0:
        die("tshark failed on %s: %s" % (pcap, r.stderr.strip()))
    out = []
    for pkt in json.loads(r.stdout or "[]"):
        out.append(pkt["_source"]["layers"])
    return out


def one(layers, f, default=None):
    v = layers.get(f)
    if not v:
        return default
    return v[0]


class Stream:
    def __init__(self, idx):
        self.idx = idx
        self.client_ip = self.server_ip = None
        self.client_port = self.server_port = None
        self.first_time = None
        self.lines = []          # tshark imap.line: (from_client, text)
        self.segs = []           # (from_client, seq, payload bytes)
        self.ch = None           # ClientHello facts
        self.sh = None           # ServerHello facts
        self.certs = []          # DER hex of the Certificate message
        self.records = []        # (from_client, content_type)
        self.alerts = []         # plaintext alerts (from_client, level, desc)


class Facts:
    """What tshark sees in a capture, per TCP stream."""

    def __init__(self, pcap, decode_as=()):
        self.pcap = pcap
        da = [("tcp.port==%d,imap" % p) if isinstance(p, int) else p
              for p in decode_as]
        self.streams = {}
        for L in tshark_json(pcap, da, "tcp", [
                "frame.time_epoch", "tcp.stream", "ip.src", "ipv6.src",
                "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport",
                "tcp.flags.syn", "tcp.flags.ack", "imap.line",
                "tcp.seq_raw", "tcp.payload",
                "tls.record.content_type", "tls.alert_message.level",
                "tls.alert_message.desc"]):
            i = int(one(L, "tcp.stream"))
            s = self.streams.setdefault(i, Stream(i))
            src = one(L, "ip.src") or one(L, "ipv6.src")
            dst = one(L, "ip.dst") or one(L, "ipv6.dst")
            sp, dp = int(one(L, "tcp.srcport")), int(one(L, "tcp.dstport"))
            if s.first_time is None:
                s.first_time = float(one(L, "frame.time_epoch"))
            syn = one(L, "tcp.flags.syn") in ("1", "True", "true")
            ack = one(L, "tcp.flags.ack") in ("1", "True", "true")
            if syn and not ack:
                s.client_ip, s.client_port = src, sp
                s.server_ip, s.server_port = dst, dp
            fc = (sp == s.client_port)
            for ln in L.get("imap.line", []):
                s.lines.append((fc, ln.rstrip("\r\n")))
            pl = one(L, "tcp.payload")
            if pl:
                s.segs.append((fc, int(one(L, "tcp.seq_raw")),
                               bytes.fromhex(pl.replace(":", ""))))
            for ct in L.get("tls.record.content_type", []):
                s.records.append((fc, int(ct)))
            for lv, ds in zip(L.get("tls.alert_message.level", []),
                              L.get("tls.alert_message.desc", [])):
                s.alerts.append((fc, int(lv), int(ds)))
        for L in tshark_json(pcap, da, "tls.handshake.type == 1", [
                "tcp.stream", "tls.handshake.extensions_server_name",
                "tls.handshake.ja3", "tls.handshake.ja3_full",
                "tls.handshake.ciphersuite"]):
            s = self.streams[int(one(L, "tcp.stream"))]
            if s.ch is None:
                s.ch = {"sni": one(L, "tls.handshake.extensions_server_name"),
                        "ja3": one(L, "tls.handshake.ja3"),
                        "ja3_full": one(L, "tls.handshake.ja3_full"),
                        "suites": [as_int(v) for v in
                                   L.get("tls.handshake.ciphersuite", [])]}
        for L in tshark_json(pcap, da, "tls.handshake.type == 2", [
                "tcp.stream", "tls.handshake.version",
                "tls.handshake.extensions.supported_version",
                "tls.handshake.ciphersuite", "tls.handshake.ja3s",
                "tls.handshake.ja3s_full"]):
            s = self.streams[int(one(L, "tcp.stream"))]
            if s.sh is None:
                v = one(L, "tls.handshake.extensions.supported_version") or \
                    one(L, "tls.handshake.version")
                s.sh = {"version": tls_version_name(as_int(v)),
                        "suite": as_int(one(L, "tls.handshake.ciphersuite")),
                        "ja3s": one(L, "tls.handshake.ja3s"),
                        "ja3s_full": one(L, "tls.handshake.ja3s_full")}
        for L in tshark_json(pcap, da, "tls.handshake.type == 11", [
                "tcp.stream", "tls.handshake.certificate"]):
            s = self.streams[int(one(L, "tcp.stream"))]
            if not s.certs:
                s.certs = [c.replace(":", "").lower()
                           for c in L.get("tls.handshake.certificate", [])]
        r = sh(["tshark", "-r", pcap, "-n"] + sum((["-d", d] for d in da), [])
               + ["-Y", "_ws.malformed", "-T", "fields", "-e", "frame.number"])
        self.malformed = len(r.stdout.split())
        self.order = sorted(self.streams)

    def stream(self, k):
        return self.streams[self.order[k]]

    def summary(self):
        out = []
        for i in self.order:
            s = self.streams[i]
            out.append("tcp.stream %d  %s:%s -> %s:%s" % (
                i, s.client_ip, s.client_port, s.server_ip, s.server_port))
            for fc, ln in s.lines:
                out.append("  %s %s" % ("C:" if fc else "S:", ln))
            if s.ch:
                out.append("  ClientHello sni=%s ja3=%s suites=%d" % (
                    s.ch["sni"], s.ch["ja3"], len(s.ch["suites"])))
            if s.sh:
                out.append("  ServerHello %s %s (0x%04x) ja3s=%s" % (
                    s.sh["version"], tshark_cipher_name(s.sh["suite"]),
                    s.sh["suite"], s.sh["ja3s"]))
            if s.certs:
                out.append("  Certificate: %d in chain" % len(s.certs))
            for fc, lv, ds in s.alerts:
                out.append("  Alert from %s level %d desc %d" % (
                    "client" if fc else "server", lv, ds))
        return "\n".join(out) + "\n"


# ------------------------------------------------------------- IMAP parsing

def imap_tokens(line):
    """Tag, command, rest of a client line (atoms and quoted strings)."""
    toks = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', line)
    return toks


def unquote(t):
    if len(t) >= 2 and t[0] == '"' and t[-1] == '"':
        return re.sub(r"\\(.)", r"\1", t[1:-1])
    return t


def response_code(text):
    m = re.match(r"\[([A-Za-z0-9-]+)", text)
    return m.group(1).upper() if m else None


def imap_stream_lines(stream):
    """The cleartext IMAP of a stream, read from its TCP payload (tshark
    tcp.payload, in capture order, each direction's bytes deduplicated by
    sequence number) with literals taken by their announced length.

    Returns [(from_client, logical_line)] where a literal's content is
    inlined as a quoted string when short and printable, else as
    "{N-octet literal}"; and the list of literal contents.  Reading stops
    in both directions at a tagged OK to COMPRESS (deflate follows), and
    in a direction at a TLS record header (after STARTTLS)."""
    buf = {True: b"", False: b""}
    nxt = {True: None, False: None}
    out, lits = [], []
    state = {True: None, False: None}   # partial logical line, literal need
    stopped = {True: False, False: False}
    pending = {}                          # tag -> command word (client)

    def emit(fc, text):
        out.append((fc, text))
        if fc:
            t = text.split(" ", 2)
            if len(t) >= 2:
                pending[t[0]] = t[1].upper()
        else:
            m = re.match(r"^(\S+) OK", text)
            if m and pending.get(m.group(1)) == "COMPRESS":
                stopped[True] = stopped[False] = True

    def drain(fc):
        while not stopped[fc]:
            b = buf[fc]
            st = state[fc]
            if st is not None and st[1] > 0:          # inside a literal
                need = st[1]
                if len(b) < need:
                    return
                lit, buf[fc] = b[:need], b[need:]
                lits.append(lit)
                txt = lit.decode("latin-1")
                if len(lit) <= 200 and re.match(r"^[\x20-\x7e]*$", txt):
                    tok = '"%s"' % txt.replace("\\", "\\\\").replace('"', '\\"')
                else:
                    tok = "{%d-octet literal}" % len(lit)
                state[fc] = (st[0][:st[2]] + tok, 0, 0)
                continue
            if st is None and b[:1] in (b"\x14", b"\x15", b"\x16", b"\x17"):
                stopped[fc] = True                    # TLS from here on
                return
            i = b.find(b"\r\n")
            if i < 0:
                return
            ln, buf[fc] = b[:i].decode("latin-1"), b[i + 2:]
            full = (st[0] if st else "") + ln
            m = re.search(r"\{(\d+)\+?\}$", ln)
            if m:
                state[fc] = (full, int(m.group(1)), len(full) - len(m.group(0)))
                continue
            state[fc] = None
            emit(fc, full)

    for fc, seq, data in stream.segs:
        if nxt[fc] is not None and seq < nxt[fc]:
            skip = nxt[fc] - seq
            if skip >= len(data):
                continue
            data = data[skip:]
            seq = nxt[fc]
        nxt[fc] = seq + len(data)
        if stopped[fc]:
            continue
        buf[fc] += data
        drain(fc)
    return out, lits


def direction_bytes(stream, from_client):
    """One direction's payload, in order, each byte once."""
    out, nxt = b"", None
    for fc, seq, data in stream.segs:
        if fc != from_client:
            continue
        if nxt is not None and seq < nxt:
            if nxt - seq >= len(data):
                continue
            data = data[nxt - seq:]
            seq = nxt
        nxt = seq + len(data)
        out += data
    return out


class ImapView:
    """The cleartext IMAP of one stream (imap_stream_lines): commands with
    their tagged responses, capabilities, authentication attempts.  Checked
    against tshark's IMAP dissector: every command tshark shows is here too,
    or lies inside a literal (tshark 4.0 does not skip literals)."""

    def __init__(self, stream):
        self.caps = set()
        self.cmds = []       # dicts: tag, command, args, status, code, user...
        bytag = {}
        lines, self.literals = imap_stream_lines(stream)
        self.lines = lines
        for idx, (fc, ln) in enumerate(lines):
            if fc:
                toks = imap_tokens(ln)
                if len(toks) >= 2 and re.match(r"^[A-Za-z0-9.]+$", toks[0]) \
                        and toks[1].isalpha():
                    c = {"tag": toks[0], "command": toks[1].upper(),
                         "args": toks[2:], "line_index": idx}
                    bytag[toks[0]] = c
                    self.cmds.append(c)
            else:
                m = re.match(r"^\* (?:OK|PREAUTH) \[CAPABILITY ([^\]]*)\]", ln)
                if m:
                    self.caps |= set(m.group(1).upper().split())
                m = re.match(r"^\* CAPABILITY (.*)$", ln)
                if m:
                    self.caps |= set(m.group(1).upper().split())
                m = re.match(r"^(\S+) (OK|NO|BAD) ?(.*)$", ln)
                if m and m.group(1) in bytag and \
                        bytag[m.group(1)].get("status") is None:
                    c = bytag[m.group(1)]
                    c["status"] = m.group(2)
                    c["code"] = response_code(m.group(3))
                    m2 = re.search(r"\[CAPABILITY ([^\]]*)\]", ln)
                    if m2 and c["command"] not in ("LOGIN", "AUTHENTICATE"):
                        self.caps |= set(m2.group(1).upper().split())
        self.greeting = next((ln for fc, ln in lines if not fc), None)
        for c in self.cmds:
            if c["command"] == "LOGIN" and c["args"]:
                c["username"] = unquote(c["args"][0])
            if c["command"] == "AUTHENTICATE" and c["args"]:
                c["mechanism"] = c["args"][0].upper()
                if len(c["args"]) > 1 and c["mechanism"] == "PLAIN":
                    p = base64.b64decode(c["args"][1]).split(b"\0")
                    c["username"] = p[1].decode()
        self.starttls = next((c for c in self.cmds
                              if c["command"] == "STARTTLS"), None)
        # cross-check with tshark's own IMAP lines.  tshark also decodes the
        # records of a NULL-cipher TLS session as IMAP: those lines are kept
        # apart (null_lines), the only view of what such a session carried.
        self.null_lines = []
        null = stream.sh is not None and \
            "NULL" in tshark_cipher_name(stream.sh["suite"])
        mine = set((c["tag"], c["command"]) for c in self.cmds)
        for fc, ln in stream.lines:
            if null and (fc, ln) not in lines:
                self.null_lines.append((fc, ln))
                continue
            toks = ln.split(" ")
            if not fc or len(toks) < 2 or not toks[1].isalpha():
                continue
            if (toks[0], toks[1].upper()) in mine:
                continue
            if any(ln.encode("latin-1", "replace") in lit
                   for lit in self.literals):
                continue
            if re.match(r"^[A-Za-z0-9+/=]+$", ln):
                continue
            die("tshark shows the command %r that the payload reading "
                "does not" % ln)

    def auths(self):
        return [c for c in self.cmds
                if c["command"] in ("LOGIN", "AUTHENTICATE")]


# ------------------------------------------------------------ client logs

def parse_client_tls(text):
    """Version, cipher (IANA), established, verify code from a client log."""
    r = {"version": None, "cipher": None, "established": False,
         "verify": None}
    m = re.search(r"^New, (\S+), Cipher is (\S+)", text, re.M)
    if m:                                                 # openssl s_client
        # "New, TLSv1, ..." names the cipher's version; the session's
        # protocol is the SSL-Session "Protocol" line.
        p = re.search(r"^\s+Protocol\s+: (\S+)", text, re.M)
        if m.group(1) != "(NONE)" and p:
            r.update(version=tls_version_name(p.group(1)),
                     cipher=iana_name(m.group(2)), established=True)
        m = re.search(r"Verify return code: (\d+) \(([^)]*)\)", text)
        if m:
            r["verify"] = (int(m.group(1)), m.group(2))
        return r
    m = re.search(r"SSL connection using (\S+) / (\S+)", text)   # curl
    if m:
        r.update(version=tls_version_name(m.group(1)),
                 cipher=iana_name(m.group(2)), established=True)
        return r
    m = re.search(r"^TLS: version=(\S+) cipher=(\S+) established=yes",
                  text, re.M)                                    # python
    if m:
        r.update(version=tls_version_name(m.group(1)),
                 cipher=iana_name(m.group(2)), established=True)
    return r


def dovecot_logins(text):
    """Per client port: the imap-login lines of dovecot's log."""
    out = {}
    for ln in text.splitlines():
        m = re.search(r"imap-login: Info: (.*?): .*\brport=(\d+)", ln)
        if m:
            e = {"what": m.group(1), "line": ln}
            u = re.search(r"user=<([^>]*)>", ln)
            e["user"] = u.group(1) if u else None
            mm = re.search(r"method=(\S+?),", ln)
            e["method"] = mm.group(1) if mm else None
            e["tls"] = ", TLS," in ln or ", TLS:" in ln or \
                bool(re.search(r", TLS(,| handshaking)", ln))
            out.setdefault(int(m.group(2)), []).append(e)
    return out


# ------------------------------------------------------------------ dovecot

PRESETS = {
    # ssl = no: no STARTTLS.  Plaintext auth must be allowed for a client
    # that is not local, or nothing could log in.
    "nostarttls": dict(ssl="no", plaintext=True),
    # a cleartext IMAP listener on the IMAPS port
    "nostarttls-on-993": dict(ssl="no", plaintext=True, imap_port=993,
                              imaps_port=0),
    # STARTTLS offered, plaintext login allowed before it (no LOGINDISABLED)
    "open": dict(ssl="yes", plaintext=True,
                 mechs="plain login cram-md5"),
    # STARTTLS offered, LOGINDISABLED before it (Debian's default)
    "logindisabled": dict(ssl="yes", plaintext=False),
    # ssl = required: no authentication at all before TLS
    "required": dict(ssl="required", plaintext=False),
    # any TLS version and suite the client asks for, OpenSSL permitting
    "tls-any": dict(ssl="yes", plaintext=False, min_proto="TLSv1",
                    ciphers="ALL:eNULL:@SECLEVEL=0"),
}


class Dovecot:
    def __init__(self):
        self.p = None
        self.key = None
        self.conf = None
        self.log = os.path.join(WORK, "dovecot.log")
        home = os.path.join(WORK, "home", USER)
        os.makedirs(os.path.join(home, "Maildir", "new"), exist_ok=True)
        os.makedirs(os.path.join(home, "Maildir", "cur"), exist_ok=True)
        os.makedirs(os.path.join(home, "Maildir", "tmp"), exist_ok=True)
        sys.path.insert(0, os.path.join(ROOT, "tests/captures"))
        import clients
        with open(os.path.join(home, "Maildir", "new",
                               "1700000000.seed.capture"), "wb") as f:
            f.write(clients.big_message(12000))
        subprocess.run(["chown", "-R", "nobody:nogroup",
                        os.path.join(WORK, "home")], check=True)
        with open(os.path.join(WORK, "passwd"), "w") as f:
            f.write("%s:{PLAIN}%s::::::\n" % (USER, PW))
        os.chmod(os.path.join(WORK, "passwd"), 0o644)

    def write_conf(self, key, cert="good", ssl="no", plaintext=True,
                   mechs="plain login", min_proto=None, ciphers=None,
                   imap_port=143, imaps_port=993, compress=False):
        d = os.path.join(WORK, "dovecot", key)
        for sub in ("run", "state"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        L = []
        L.append("base_dir = %s/run" % d)
        L.append("state_dir = %s/state" % d)
        L.append("instance_name = iwcap-%s" % key)
        L.append("log_path = %s" % self.log)
        L.append("auth_verbose = yes")
        L.append("protocols = imap")
        L.append("listen = %s, %s" % (SERVER4, SERVER6))
        L.append("login_log_format_elements = user=<%u> method=%m rip=%r "
                 "rport=%{rport} lip=%l mpid=%e %c session=<%{session}>")
        L.append("ssl = %s" % ssl)
        if ssl != "no":
            L.append("ssl_cert = <%s/%s.chain.pem" % (CERTS, cert))
            L.append("ssl_key = <%s/%s.key" % (CERTS, cert))
            L.append("ssl_dh = <%s/dh.pem" % CERTS)
            if min_proto:
                L.append("ssl_min_protocol = %s" % min_proto)
            if ciphers:
                L.append("ssl_cipher_list = %s" % ciphers)
        L.append("disable_plaintext_auth = %s" % ("no" if plaintext else "yes"))
        L.append("auth_mechanisms = %s" % mechs)
        L.append("passdb {\n  driver = passwd-file\n  args = scheme=PLAIN "
                 "username_format=%%u %s/passwd\n}" % WORK)
        L.append("userdb {\n  driver = static\n  args = uid=nobody "
                 "gid=nogroup home=%s/home/%%u\n}" % WORK)
        L.append("mail_location = maildir:~/Maildir")
        if compress:
            L.append("protocol imap {\n  mail_plugins = $mail_plugins "
                     "imap_zlib\n}")
        L.append("service imap-login {\n"
                 "  inet_listener imap {\n    port = %d\n  }\n"
                 "  inet_listener imaps {\n    port = %d\n    ssl = yes\n  }\n"
                 "}" % (imap_port, imaps_port if ssl != "no" else 0))
        L.append("service anvil {\n  chroot =\n}")
        conf = os.path.join(d, "dovecot.conf")
        with open(conf, "w") as f:
            f.write("\n".join(L) + "\n")
        return conf

    def start(self, preset, **kw):
        opts = dict(PRESETS[preset])
        opts.update(kw)
        opts.pop("instance", None)     # only makes a fresh instance
        key = preset + "".join("-%s=%s" % (k, kw[k]) for k in sorted(kw))
        key = re.sub(r"[^A-Za-z0-9=.-]", "_", key)
        if self.key == key and self.p and self.p.poll() is None:
            return
        self.stop()
        self.conf = self.write_conf(key, **opts)
        ports = [p for p in (opts.get("imap_port", 143),
                             opts.get("imaps_port", 993)
                             if opts.get("ssl", "no") != "no" else 0) if p]
        if opts.get("ssl", "no") == "no" and opts.get("imap_port", 143) == 0:
            die("a dovecot with nothing to listen on")
        errf = open(os.path.join(WORK, "dovecot.stderr"), "a")
        self.p = subprocess.Popen(["ip", "netns", "exec", SRV, "dovecot",
                                   "-F", "-c", self.conf],
                                  stdout=errf, stderr=errf)
        self.key = key
        wait_listen(ports, self.p)
        time.sleep(0.3)

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p = None
        self.key = None
        wait_listen([], None)


def listening():
    out = sh(["ip", "netns", "exec", SRV, "ss", "-Hltn"]).stdout
    return set(int(m) for m in re.findall(r":(\d+)\s", out))


def wait_listen(ports, proc):
    for _ in range(200):
        now = listening()
        if ports and set(ports) <= now:
            return
        if not ports and not (now & {143, 993}):
            return
        if proc is not None and proc.poll() is not None:
            die("dovecot exited at start-up; see %s/dovecot.log and "
                "dovecot.stderr" % WORK)
        time.sleep(0.05)
    die("timed out waiting for listeners %s (now %s)" % (ports, listening()))


# ------------------------------------------------------------------ scenarios

SCENARIOS = []


def scenario(name, text):
    def reg(fn):
        SCENARIOS.append((name, text, fn))
        return fn
    return reg


class Ctx:
    """One scenario: its capture, its sources, its expectations."""

    def __init__(self, name, text, dovecot, ids):
        self.name = name
        self.text = text
        self.dovecot = dovecot
        self.ids = ids
        self.logs = {}
        self.facts = None
        self.dovecot_log = ""
        self.passwords = [PW]
        self.options = []
        self.server_names = {}     # configured --server-name (addr -> name)
        self.ca_file = None
        self.sessions = []
        self.present = []
        self.unasserted = set()
        self.decode_as = []
        self.anomalies_zero = True
        self.malformed_ok = None   # why tshark's "malformed" is tshark's bug
        self.anomalies_source = None
        self.tls_streams = {}      # stream k -> dict for the TLS cross-check

    # -- running things
    def server(self, preset, **kw):
        self.dovecot.start(preset, **kw)

    def run(self, label, argv, stdin=None, timeout=60, ns=None):
        r = subprocess.run(["ip", "netns", "exec", ns or CLI] + argv,
                           input=stdin, capture_output=True, text=True,
                           timeout=timeout)
        txt = "$ " + " ".join(argv) + "\n" + r.stdout + r.stderr
        if stdin:
            txt = txt.replace("$ ", "$ (stdin: %r) " % stdin, 1)
        self.logs[label] = self.logs.get(label, "") + txt
        return r

    def curl(self, url, *extra, label="curl", user=USER, pw=PW):
        return self.run(label, ["curl", "-sv", "--max-time", "20",
                                "--resolve", "%s:143:%s" % (NAME, SERVER4),
                                "--resolve", "%s:993:%s" % (NAME, SERVER4),
                                "--cacert", os.path.join(CERTS, "ca.pem"),
                                "-u", "%s:%s" % (user, pw)] + list(extra)
                        + [url])

    def s_client(self, *args, label="s_client", commands=None, port=None,
                 connect=SERVER4):
        starttls = "-starttls" in args
        port = port or (143 if starttls else 993)
        host = "[%s]" % connect if ":" in connect else connect
        cmds = commands if commands is not None else \
            "a1 LOGIN %s %s\na2 LOGOUT\n" % (USER, PW)
        return self.run(label, ["openssl", "s_client", "-connect",
                                "%s:%d" % (host, port), "-crlf", "-ign_eof",
                                "-CAfile", os.path.join(CERTS, "ca.pem")]
                        + list(args), stdin=cmds, timeout=30)

    def py(self, label, *args):
        return self.run(label, [PY, os.path.join(ROOT, "tests/captures/clients.py")]
                        + list(args))

    @contextlib.contextmanager
    def capture(self):
        pcap = os.path.join(WORK, self.name + ".pcap")
        errp = pcap + ".stderr"
        err = open(errp, "w")
        td = subprocess.Popen(["ip", "netns", "exec", SRV, "tcpdump", "-i",
                               IFACE, "-n", "-s", "0", "-U", "-Z", "root",
                               "--immediate-mode", "-B", "16384",
                               "-w", pcap, "tcp"],
                              stdout=subprocess.DEVNULL, stderr=err)
        for _ in range(200):
            if "listening on" in open(errp).read():
                break
            if td.poll() is not None:
                die("tcpdump failed: " + open(errp).read())
            time.sleep(0.05)
        else:
            die("tcpdump did not start")
        off = os.path.getsize(self.dovecot.log) if \
            os.path.exists(self.dovecot.log) else 0
        try:
            yield
        finally:
            time.sleep(0.6)
            td.send_signal(signal.SIGINT)
            try:
                td.wait(10)
            except subprocess.TimeoutExpired:
                td.kill()
                td.wait()
            time.sleep(0.2)
            m = re.search(r"(\d+) packets? dropped by kernel", open(errp).read())
            if not m or m.group(1) != "0":
                raise Dropped("tcpdump: %s" % (m.group(0) if m else
                                               "no statistics"))
            with open(self.dovecot.log, errors="replace") as f:
                f.seek(off)
                self.dovecot_log = f.read()
        self.pcap = pcap
        self.facts = Facts(pcap, self.decode_as)

    # -- expectations
    def session(self, k, event_type="imap"):
        st = self.facts.stream(k)
        s = SessionX(self, k, st, event_type)
        self.sessions.append(s)
        return s

    def alert(self, sig, k=None, source="", severity=None, evidence=None):
        if sig not in self.ids:
            die("%s: %s is not in the catalogue" % (self.name, sig))
        a = {"signature": sig}
        if k is not None:
            a["client_port"] = self.facts.stream(k).client_port
        if severity is not None:
            a["severity"] = severity
        if evidence:
            a["evidence"] = evidence
        a["source"] = source
        self.present.append(a)

    def unassert(self, *sigs):
        self.unasserted |= set(sigs)

    def server_name(self, addr, name):
        self.options += ["--server-name", "%s=%s" % (addr, name)]
        self.server_names[addr] = name

    def use_ca_file(self, ca):
        self.options += ["--ca-file", "tests/captures/certs/%s.pem" % ca]
        self.ca_file = ca

    # -- the TLS findings the independent facts imply, to cross-check the
    #    declared ones
    def implied_tls_findings(self):
        out = {}
        for k, t in self.tls_streams.items():
            st = self.facts.stream(k)
            f = set()
            why = {}
            sh_ = st.sh
            if sh_:
                cname = tshark_cipher_name(sh_["suite"])
                if WEAK_RE.search(cname):
                    f.add("weak_cipher")
                    why["weak_cipher"] = "tshark ServerHello: %s" % cname
                if cname.startswith("TLS_RSA_WITH_"):
                    f.add("no_forward_secrecy")
                    why["no_forward_secrecy"] = "tshark ServerHello: %s " \
                        "(static RSA key exchange)" % cname
                if sh_["version"] in ("SSL 3.0", "TLS 1.0", "TLS 1.1"):
                    f.add("obsolete_tls_version")
                    why["obsolete_tls_version"] = "tshark ServerHello: %s" \
                        % sh_["version"]
            if st.ch:
                weak = [tshark_cipher_name(n) for n in st.ch["suites"]
                        if WEAK_RE.search(tshark_cipher_name(n))]
                if weak:
                    f.add("weak_cipher_offered")
                    why["weak_cipher_offered"] = "tshark ClientHello offers " \
                        + ", ".join(weak[:4])
            if not t["established"] and t["origin"] == "implicit":
                f.add("tls_handshake_failed")
                why["tls_handshake_failed"] = "client log: no completed " \
                    "handshake; tshark: " + ("alert %s" % st.alerts
                                             if st.alerts else "no alert")
            name = st.ch["sni"] if st.ch else None
            configured = self.server_names.get(st.server_ip)
            if st.ch and not name and not configured:
                f.add("no_sni")
                why["no_sni"] = "tshark ClientHello: no server_name " \
                    "extension; no --server-name"
            cert = t.get("cert")
            if cert and st.certs:
                check = name or configured
                if check and not cert.checkhost(check):
                    f.add("cert_name_mismatch")
                    why["cert_name_mismatch"] = "openssl x509 -checkhost " \
                        "%s: does NOT match (%s)" % (check, cert.name)
                at = st.first_time
                if at > cert.epoch_after:
                    f.add("cert_expired")
                    why["cert_expired"] = "openssl x509: notAfter %s, " \
                        "before the capture" % cert.notafter
                if at < cert.epoch_before:
                    f.add("cert_not_yet_valid")
                    why["cert_not_yet_valid"] = "openssl x509: notBefore " \
                        "%s, after the capture" % cert.notbefore
                if cert.self_signed:
                    f.add("cert_self_signed")
                    why["cert_self_signed"] = "openssl verify: the leaf " \
                        "verifies with itself as CA; subject == issuer"
                if (cert.key_type == "RSA" and cert.key_bits < 2048) or \
                        (cert.key_type == "EC" and cert.key_bits < 224):
                    f.add("weak_key")
                    why["weak_key"] = "openssl x509 -text: %s %d bit" % (
                        cert.key_type, cert.key_bits)
                if re.match(r"(sha1|md5)", cert.sig_alg, re.I):
                    f.add("weak_signature")
                    why["weak_signature"] = "openssl x509 -text: " \
                        + cert.sig_alg
                if self.ca_file and not cert.trusted_by(self.ca_file, at):
                    f.add("cert_untrusted")
                    why["cert_untrusted"] = "openssl verify -CAfile %s.pem " \
                        "-attime <capture time>: fails" % self.ca_file
            out[k] = (f, why)
        return out

    def finish(self):
        ids = self.ids
        # TLS findings: declared == implied by the independent facts
        implied = self.implied_tls_findings()
        for k, (f, why) in implied.items():
            port = self.facts.stream(k).client_port
            declared = set(a["signature"] for a in self.present
                           if a.get("client_port") == port
                           and a["signature"] in TLS_FINDINGS)
            if declared != f:
                die("%s: stream %d: declared TLS findings %s, the sources "
                    "imply %s (%s)" % (self.name, k, sorted(declared),
                                       sorted(f), why))
            for a in self.present:
                if a.get("client_port") == port and a["signature"] in why \
                        and not a["source"]:
                    a["source"] = why[a["signature"]]
        for a in self.present:
            if not a["source"]:
                die("%s: alert %s has no source" % (self.name, a["signature"]))
        present = set(a["signature"] for a in self.present)
        absent = [i for i in ids if i not in present
                  and i not in self.unasserted]
        exp = {"capture": self.name + ".pcap",
               "scenario": self.text,
               "passwords": self.passwords}
        if self.options:
            exp["options"] = self.options
        exp["sessions"] = [s.as_json() for s in self.sessions]
        exp["alerts_present"] = self.present
        exp["alerts_absent"] = absent
        if self.anomalies_zero:
            if self.facts.malformed and not self.malformed_ok:
                die("%s: tshark finds %d malformed packets"
                    % (self.name, self.facts.malformed))
            exp["anomalies"] = 0
            if self.anomalies_source:
                src = self.anomalies_source
            elif self.malformed_ok:
                src = "real software on a clean link; " + self.malformed_ok
            else:
                src = "real software on a clean link: tshark reports no " \
                    "malformed packet"
            exp["anomalies_source"] = src
        if self.unasserted:
            exp["not_asserted"] = sorted(self.unasserted)
        return exp


class SessionX:
    def __init__(self, ctx, k, st, event_type):
        self.ctx, self.k, self.st = ctx, k, st
        self.event_type = event_type
        self.expect = {}
        self.source = {}
        self.imap = ImapView(st)

    def fail(self, msg):
        die("%s: session %d (client port %s): %s" % (
            self.ctx.name, self.k, self.st.client_port, msg))

    def put(self, field, value, source):
        self.expect[field] = value
        self.source[field] = source

    def as_json(self):
        st = self.st
        return {"client_ip": st.client_ip, "client_port": st.client_port,
                "server_ip": st.server_ip, "server_port": st.server_port,
                "event_type": self.event_type,
                "expect": self.expect, "source": self.source}

    # -- IMAP facts, from tshark's IMAP dissector (and dovecot's log)
    def mode(self, m):
        st = self.st
        stls = self.imap.starttls
        if stls and stls.get("status") == "OK":
            seen = "starttls"
        elif st.ch and not self.imap.lines:
            seen = "implicit_tls"
        else:
            seen = "cleartext"
        if seen != m:
            self.fail("mode %s expected, tshark shows %s" % (m, seen))
        src = {"starttls": "tshark IMAP view: STARTTLS answered OK, "
                           "then a TLS ClientHello",
               "implicit_tls": "tshark: TLS from the first byte on port %d"
                               % st.server_port,
               "cleartext": "tshark IMAP view: IMAP lines, no TLS"}[m]
        self.put("imap.mode", m, src)

    def starttls(self, offered=None, requested=None, status=None):
        v = self.imap
        if offered is not None:
            if ("STARTTLS" in v.caps) != offered:
                self.fail("STARTTLS offered=%s expected, capabilities %s"
                          % (offered, sorted(v.caps)))
            self.put("imap.starttls.offered", offered,
                     "tshark IMAP view: capabilities before TLS")
        if requested is not None:
            if (v.starttls is not None) != requested:
                self.fail("STARTTLS requested=%s expected" % requested)
            self.put("imap.starttls.requested", requested,
                     "tshark IMAP view: client commands")
        if status is not None:
            if not v.starttls or v.starttls.get("status") != status:
                self.fail("STARTTLS status %s expected, saw %s" % (
                    status, v.starttls))
            self.put("imap.starttls.status", status,
                     "tshark IMAP view: tagged response to STARTTLS")

    def caps(self, includes=(), excludes=()):
        c = self.imap.caps
        for x in includes:
            if x not in c:
                self.fail("capability %s expected, tshark shows %s"
                          % (x, sorted(c)))
        for x in excludes:
            if x in c:
                self.fail("capability %s not expected" % x)
        val = {}
        if includes:
            val["includes"] = list(includes)
        if excludes:
            val["excludes"] = list(excludes)
        self.put("imap.capabilities", val,
                 "tshark IMAP view: greeting [CAPABILITY] and "
                 "* CAPABILITY before TLS; the client's log")

    def auth(self, i, username=None, status=None, code=None,
             mechanism=None, encrypted_view=None):
        """The i-th authentication attempt.  Cleartext ones are checked
        against tshark's lines and dovecot's log; encrypted_view is the
        client log to use when tshark cannot see them (NULL cipher)."""
        port = self.st.client_port
        dlog = dovecot_logins(self.ctx.dovecot_log).get(port, [])
        srcs = []
        if encrypted_view is None:
            auths = self.imap.auths()
            if i >= len(auths):
                self.fail("auth[%d] expected, tshark shows %d attempts"
                          % (i, len(auths)))
            a = auths[i]
            for f, want in (("username", username), ("status", status),
                            ("code", code), ("mechanism", mechanism)):
                if want is not None and a.get(f) != want:
                    self.fail("auth[%d].%s %r expected, tshark shows %r"
                              % (i, f, want, a.get(f)))
            srcs.append("tshark IMAP view")
        else:
            # inside NULL-cipher TLS: tshark decodes the records as IMAP,
            # and the client printed the server's replies
            nl = self.imap.null_lines
            cmd = next((ln for fc, ln in nl if fc and
                        re.match(r"^\S+ (LOGIN|AUTHENTICATE) ", ln, re.I)),
                       None)
            if cmd is None:
                self.fail("tshark does not show the LOGIN inside NULL TLS")
            tag = cmd.split(" ")[0]
            if username and imap_tokens(cmd)[2] != username:
                self.fail("tshark shows %r" % cmd)
            rsp = next((ln for fc, ln in nl if not fc and
                        ln.startswith(tag + " ")), "")
            if status and not rsp.startswith("%s %s" % (tag, status)):
                self.fail("tshark shows the reply %r" % rsp)
            txt = self.ctx.logs[encrypted_view]
            if status and not re.search(r"^%s %s" % (tag, status), txt, re.M):
                self.fail("client log lacks '%s %s'" % (tag, status))
            srcs.append("tshark (decodes the NULL-cipher records as IMAP: "
                        "'%s ...', '%s')" % (" ".join(cmd.split(" ")[:3]),
                                             rsp[:40]))
            srcs.append("%s output (server replies)" % encrypted_view)
        # dovecot: a Login line for this client port means OK
        ok = [e for e in dlog if e["what"] == "Login"]
        if status == "OK":
            if not ok or (username and ok[0]["user"] != username):
                self.fail("dovecot log has no Login for %s from port %d"
                          % (username, port))
            if mechanism and ok[0]["method"] != mechanism:
                self.fail("dovecot logged method %s" % ok[0]["method"])
            srcs.append("dovecot log: %s" % ok[0]["line"].split(": ", 1)[1]
                        .split(" rip=")[0])
        elif status in ("NO", "BAD"):
            if ok:
                self.fail("dovecot logged a successful login")
            if dlog:
                srcs.append("dovecot log: %s" % dlog[-1]["what"])
        src = "; ".join(srcs)
        p = "imap.auth[%d]." % i
        if mechanism is not None:
            self.put(p + "mechanism", mechanism, src)
        if username is not None:
            self.put(p + "username", username, src)
        if status is not None:
            self.put(p + "status", status, src)
        if code is not None:
            self.put(p + "code", code, src)

    def no_auth(self, i):
        """There is no i-th authentication attempt (e.g. the LOGIN inside a
        literal must not be parsed as one)."""
        if len(self.imap.auths()) > i:
            self.fail("tshark shows more than %d auth attempts" % i)
        self.put("imap.auth[%d]" % i, ABSENT,
                 "tshark IMAP view and the client's log: %d "
                 "authentication command(s)" % i)

    # -- TLS facts
    def tls(self, log, version, cipher, sni=ABSENT, cert=None,
            established=True, origin="starttls", name_check=None,
            ja3=True):
        """log: the client log label.  cert: the certificate file the
        server was given (None for anonymous suites)."""
        st = self.st
        cl = parse_client_tls(self.ctx.logs[log])
        self.ctx.tls_streams[self.k] = {"established": established,
                                        "origin": origin,
                                        "cert": Cert(cert) if cert else None}
        if cl["established"] != established:
            self.fail("established=%s expected, client log says %s"
                      % (established, cl["established"]))
        self.put("tls.established", established,
                 "%s output: %s" % (log, "handshake completed"
                                    if established else
                                    "handshake failed"))
        if not established:
            if st.ch is None:
                self.fail("no ClientHello in the capture")
            if sni is not ABSENT and st.ch["sni"] != sni:
                self.fail("SNI %r expected, tshark %r" % (sni, st.ch["sni"]))
            self.put("tls.sni", sni, "tshark ClientHello server_name")
            return
        if st.sh is None:
            self.fail("no ServerHello in the capture")
        tv = st.sh["version"]
        tc = tshark_cipher_name(st.sh["suite"])
        if tv != version or cl["version"] != version:
            self.fail("version %s expected; tshark %s, client %s"
                      % (version, tv, cl["version"]))
        if tc != cipher or cl["cipher"] != cipher:
            self.fail("cipher %s expected; tshark %s, client %s"
                      % (cipher, tc, cl["cipher"]))
        self.put("tls.version", version,
                 "tshark ServerHello; %s output" % log)
        self.put("tls.cipher", cipher,
                 "tshark ServerHello; %s output (openssl ciphers -stdname)"
                 % log)
        self.put("tls.cipher_id", "0x%04x" % st.sh["suite"],
                 "tshark ServerHello tls.handshake.ciphersuite")
        if st.ch["sni"] != (sni if sni is not ABSENT else None):
            self.fail("SNI %r expected, tshark %r" % (sni, st.ch["sni"]))
        self.put("tls.sni", sni, "tshark ClientHello server_name" +
                 ("" if sni else " (none)"))
        if ja3:
            self.put("tls.ja3.hash", st.ch["ja3"],
                     "tshark 4.0 tls.handshake.ja3")
            self.put("tls.ja3s.hash", st.sh["ja3s"],
                     "tshark 4.0 tls.handshake.ja3s")
        configured = self.ctx.server_names.get(st.server_ip)
        if version == "TLS 1.3":
            if st.certs:
                self.fail("TLS 1.3 with a cleartext Certificate?")
            self.put("tls.certificate", "encrypted",
                     "tshark: no Certificate message in clear (TLS 1.3)")
            # A check needs a name and a certificate: with no name at all
            # the result is "unchecked" whatever the version; with a name
            # and TLS 1.3 the certificate is what is missing: "encrypted".
            if st.ch["sni"] or configured:
                self.put("tls.name_check.result", "encrypted",
                         "TLS 1.3: the certificate is encrypted (tshark: no "
                         "Certificate message in clear)")
            else:
                self.put("tls.name_check.result", "unchecked",
                         "no SNI (tshark ClientHello) and no --server-name: "
                         "no name to check")
            return
        if cert is None:
            if st.certs:
                self.fail("a certificate was sent (anonymous suite expected)")
            self.put("tls.subject", ABSENT,
                     "tshark: no Certificate message (anonymous suite)")
            return
        c = Cert(cert)
        if not st.certs or st.certs[0] != c.der_hex:
            self.fail("the leaf in the capture is not %s.pem" % cert)
        src = "openssl x509 on tests/captures/certs/%s.pem (the DER tshark " \
              "shows in the Certificate message)" % cert
        self.put("tls.subject", c.subject, src)
        self.put("tls.issuerdn", c.issuer, src)
        self.put("tls.notbefore", c.notbefore, src)
        self.put("tls.notafter", c.notafter, src)
        self.put("tls.fingerprint", c.fingerprint, src)
        name = st.ch["sni"] or configured
        if name is None:
            res = "unchecked"
            why = "no SNI (tshark) and no --server-name"
        else:
            res = "match" if c.checkhost(name) else "mismatch"
            why = "openssl x509 -checkhost %s: %s" % (
                name, "does match" if res == "match" else "does NOT match")
        if name_check is not None and name_check != res:
            self.fail("name check %s expected, %s" % (name_check, why))
        self.put("tls.name_check.result", res, why)


# ------------------------------------------------------------ log handling

def mask_passwords(text, passwords):
    for pw in sorted(passwords, key=len, reverse=True):
        text = text.replace(pw, "<password>")

    def b64(m):
        tok = m.group(0)
        try:
            raw = base64.b64decode(tok + "=" * (-len(tok) % 4))
        except Exception:
            return tok
        if any(pw.encode() in raw for pw in passwords):
            return "<password in base64>"
        return tok
    return re.sub(r"[A-Za-z0-9+/]{12,}={0,2}", b64, text)


def write_outputs(ctx, exp):
    pcaps = os.path.join(ROOT, "pcaps")
    logs = os.path.join(ROOT, "tests/captures/logs")
    os.makedirs(pcaps, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    for f in os.listdir(logs):
        if f.startswith(ctx.name + "."):
            os.unlink(os.path.join(logs, f))
    shutil.copyfile(ctx.pcap, os.path.join(pcaps, ctx.name + ".pcap"))
    with open(os.path.join(pcaps, ctx.name + ".expect.json"), "w") as f:
        json.dump(exp, f, indent=1)
        f.write("\n")
    items = dict(ctx.logs)
    items["dovecot"] = ctx.dovecot_log
    items["tshark"] = ctx.facts.summary()
    for label, text in items.items():
        text = mask_passwords(text, ctx.passwords)
        # the certificates are in tests/captures/certs; the ticket dumps
        # say nothing the expectations use
        text = re.sub(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE"
                      r"-----\n", "[certificate PEM: see tests/captures/"
                      "certs]\n", text, flags=re.S)
        text = re.sub(r"(\n    TLS session ticket:\n)(    [0-9a-f]{4} - .*\n)+",
                      r"\1    [hex dump cut]\n", text)
        text = re.sub(re.escape(WORK), "$WORK", text)
        text = text.replace(ROOT + "/", "")
        if len(text.encode()) >= 20000:
            text = text[:19000] + "\n[... cut: the log was longer than " \
                "20 KB]\n"
        with open(os.path.join(logs, "%s.%s.log" % (ctx.name, label)),
                  "w") as f:
            f.write(text)


# ------------------------------------------------------------------ main

def main():
    global ROOT, WORK, SRV, CLI, IFACE, CERTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--srv-ns", required=True)
    ap.add_argument("--cli-ns", required=True)
    ap.add_argument("--iface", required=True)
    ap.add_argument("--only")
    a = ap.parse_args()
    ROOT, WORK, SRV, CLI, IFACE = a.root, a.work, a.srv_ns, a.cli_ns, a.iface
    CERTS = os.path.join(ROOT, "tests/captures/certs")
    import scenarios  # noqa: F401  (registers the scenarios)
    try:
        ids = catalogue()
    except Failed as e:
        print("capture: " + str(e), file=sys.stderr)
        sys.exit(1)
    dv = Dovecot()
    todo = [s for s in SCENARIOS if not a.only or a.only in s[0]]
    if not todo:
        die("no scenario matches %r" % a.only)
    made = []
    failed = []
    try:
        for name, text, fn in todo:
            t0 = time.time()
            ctx = Ctx(name, text, dv, ids)
            try:
                for attempt in range(3):
                    try:
                        fn(ctx)
                        break
                    except Dropped as e:
                        print("capture: %s: %s, again" % (name, e), flush=True)
                        ctx = Ctx(name, text, dv, ids)
                else:
                    raise Failed("tcpdump kept dropping packets")
                exp = ctx.finish()
            except (Failed, SystemExit, subprocess.TimeoutExpired) as e:
                print("capture: FAILED %s: %s" % (name, e), flush=True)
                failed.append(name)
                keep = os.path.join(WORK, "failed-" + name)
                os.makedirs(keep, exist_ok=True)
                for label, text in ctx.logs.items():
                    with open(os.path.join(keep, label + ".log"), "w") as f:
                        f.write(text)
                with open(os.path.join(keep, "dovecot.log"), "w") as f:
                    f.write(ctx.dovecot_log)
                if ctx.facts:
                    with open(os.path.join(keep, "tshark.log"), "w") as f:
                        f.write(ctx.facts.summary())
                continue
            write_outputs(ctx, exp)
            size = os.path.getsize(os.path.join(ROOT, "pcaps", name + ".pcap"))
            made.append((name, size))
            print("capture: %-48s %6d bytes  %2d sessions %2d alerts  %.1fs"
                  % (name, size, len(exp["sessions"]),
                     len(exp["alerts_present"]), time.time() - t0),
                  flush=True)
    finally:
        dv.stop()
    print("capture: %d captures written to pcaps/" % len(made))
    if not a.only and not failed:
        # a full run: drop what no scenario makes any more (ours only)
        names = set(n for n, _ in made)
        for d, suffixes in ((os.path.join(ROOT, "pcaps"),
                             (".pcap", ".expect.json")),
                            (os.path.join(ROOT, "tests/captures/logs"),
                             None)):
            for f in os.listdir(d):
                if not f.startswith("dovecot-"):
                    continue
                base = f.split(".")[0]
                if base not in names:
                    os.unlink(os.path.join(d, f))
                    print("capture: removed stale " + f)
    if failed:
        print("capture: %d FAILED (nothing written for them; sources kept "
              "under the work directory, failed-NAME/): %s"
              % (len(failed), " ".join(failed)))
        sys.exit(1)


if __name__ == "__main__":
    # Run as the module "capture", the one scenarios.py imports.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import capture
    capture.main()
