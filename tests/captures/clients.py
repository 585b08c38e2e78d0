#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Python IMAP clients for the dovecot captures (run in the client namespace
by capture.py, one connection or a few per call).

    clients.py imaplib  [options]     python3's imaplib (IMAP4 / IMAP4_SSL)
    clients.py raw NAME [options]     a raw socket client doing what real
                                      clients must not (or rarely) do

Every client writes its own log to standard error: imaplib's debug output
(imaplib.Debug = 4), or "C: ..."/"S: ..." lines for the raw clients, and one
line "TLS: version=... cipher=... established=yes" for the TLS it completed,
as the client's ssl module reports it.  capture.py checks expectations
against these logs.
"""

import argparse
import base64
import imaplib
import os
import socket
import ssl
import sys
import time
import zlib


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def tls_context(args):
    if args.cafile:
        ctx = ssl.create_default_context(cafile=args.cafile)
        if not args.verify_name:
            ctx.check_hostname = False
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    # key log captures (tests/captures/keylog.py)
    if getattr(args, "keylog", None):
        ctx.keylog_filename = args.keylog
    if getattr(args, "tls_max", None):
        ctx.maximum_version = {"1.2": ssl.TLSVersion.TLSv1_2,
                               "1.3": ssl.TLSVersion.TLSv1_3}[args.tls_max]
    if getattr(args, "ciphers", None):
        ctx.set_ciphers(args.ciphers)
    return ctx


def report_tls(sock):
    log("TLS: version=%s cipher=%s established=yes"
        % (sock.version(), sock.cipher()[0]))


# ---------------------------------------------------------------- imaplib

class _Named:
    """imaplib connects to self.host and uses it as the TLS server name;
    connect to the address given with --connect instead, so the name (SNI)
    can be a test name no resolver knows."""

    def _create_socket(self, timeout=None):
        addr = self._iw_connect
        if getattr(self, "_iw_implicit", False):
            raw = socket.create_connection((addr, self.port), timeout)
            return self.ssl_context.wrap_socket(
                raw, server_hostname=self.host if self._iw_sni else None)
        return socket.create_connection((addr, self.port), timeout)


def run_imaplib(args):
    imaplib.Debug = 4
    ctx = tls_context(args)
    sni = args.name is not None
    host = args.name or args.connect

    if args.ssl:
        class C(_Named, imaplib.IMAP4_SSL):
            pass
        C._iw_connect = args.connect
        C._iw_implicit = True
        C._iw_sni = sni
        m = C(host, args.port, ssl_context=ctx)
        report_tls(m.sock)
    else:
        class C(_Named, imaplib.IMAP4):
            pass
        C._iw_connect = args.connect
        m = C(host, args.port)
    if args.id:
        typ, data = m.xatom("ID", '("name" "imapwatch-capture" "version" "1.0")')
        log("ID:", typ, data, m.untagged_responses.get("ID"))
    if args.starttls:
        if not sni:
            # imaplib always passes self.host as server_hostname: an address
            # literal sends no SNI, as RFC 6066 says.
            m.host = args.connect
        m.starttls(ssl_context=ctx)
        report_tls(m.sock)
    if args.capability_only:
        m.capability()
        m.logout()
        return 0
    try:
        if args.auth == "login":
            m.login(args.user, args.password)
        elif args.auth == "plain":
            m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (
                args.user, args.password)).encode())
        elif args.auth == "cram-md5":
            m.login_cram_md5(args.user, args.password)
    except imaplib.IMAP4.error as e:
        log("AUTH FAILED:", e)
        m.logout()
        return 0
    if args.compress:
        deflate(m)
        m.capability()
    if args.select:
        m.select("INBOX")
    m.logout()


def deflate(m):
    """COMPRESS DEFLATE (RFC 4978), then imaplib's reads and writes go
    through raw deflate (wbits -15), flushed at every write."""
    imaplib.Commands.setdefault("COMPRESS", ("AUTH", "SELECTED"))
    typ, dat = m._simple_command("COMPRESS", "DEFLATE")
    log("COMPRESS:", typ, dat)
    if typ != "OK":
        return
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    dec = zlib.decompressobj(-15)
    buf = bytearray()

    def send(data):
        log("C(deflate): %r" % data[:200])
        m.sock.sendall(comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH))

    def fill():
        d = m.sock.recv(65536)
        if not d:
            raise imaplib.IMAP4.abort("socket error: EOF")
        buf.extend(dec.decompress(d))

    def readline():
        while b"\n" not in buf:
            fill()
        i = buf.index(b"\n") + 1
        line = bytes(buf[:i])
        del buf[:i]
        log("S(inflated): %r" % line[:200])
        return line

    def read(size):
        while len(buf) < size:
            fill()
        data = bytes(buf[:size])
        del buf[:size]
        return data

    m.send, m.readline, m.read = send, readline, read
    return 0


# ------------------------------------------------------------- raw client

class Raw:
    def __init__(self, host, port, tls=False, name=None, local_port=0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if local_port:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", local_port))
        s.connect((host, port))
        self.s = s
        self.buf = b""
        self.name = name
        if tls:
            self.tls()

    def tls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.s = ctx.wrap_socket(self.s, server_hostname=self.name)
        report_tls(self.s)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        log("C: %r" % data)
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("server closed the connection")
            self.buf += d
        ln, self.buf = self.buf.split(b"\r\n", 1)
        log("S: %r" % ln)
        return ln

    def read_literal(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("server closed inside a literal")
            self.buf += d
        body, self.buf = self.buf[:n], self.buf[n:]
        log("S: <literal of %d octets>" % n)
        return body

    def until_tagged(self, tag):
        """Lines up to the tagged response; literals announced in them are
        read whole."""
        while True:
            ln = self.line()
            if ln.endswith(b"}") and b"{" in ln:
                n = int(ln[ln.rindex(b"{") + 1:-1].rstrip(b"+"))
                self.read_literal(n)
                continue
            if ln.startswith(tag.encode() + b" "):
                return ln

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        return self.until_tagged(tag)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def big_message(size):
    """A message whose body holds IMAP-looking lines: a dissector that
    parses a literal's contents instead of skipping them sees a LOGIN."""
    head = ("From: alice@example.test\r\nTo: bob@example.test\r\n"
            "Subject: large literal\r\nMessage-ID: <large@example.test>\r\n"
            "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\n")
    trap = "x1 LOGIN mallory Literal-Bait-5150\r\n* OK [CAPABILITY IMAP4rev1]\r\n"
    body = head + trap
    n = 0
    while len(body) < size:
        body += "line %05d of a large message, nothing to see here.......\r\n" % n
        n += 1
    return body.encode()


def raw_scenario(args):
    a = args
    if a.name_ == "login-literal-sync":
        c = Raw(a.connect, a.port)
        c.line()
        pw = a.password.encode()
        c.send("a1 LOGIN %s {%d}\r\n" % (a.user, len(pw)))
        c.line()                                  # "+ OK"
        c.send(pw + b"\r\n")
        c.until_tagged("a1")
        c.cmd("a2", "LOGOUT")
    elif a.name_ == "login-literal-nonsync":
        c = Raw(a.connect, a.port)
        c.line()
        c.cmd("a1", "CAPABILITY")
        pw = a.password.encode()
        c.send(b"a2 LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n"
               % (len(a.user), a.user.encode(), len(pw), pw))
        c.until_tagged("a2")
        c.cmd("a3", "LOGOUT")
    elif a.name_ == "login-despite-logindisabled":
        c = Raw(a.connect, a.port)
        c.line()
        c.cmd("a1", "CAPABILITY")
        c.cmd("a2", 'LOGIN %s "%s"' % (a.user, a.password))
        c.cmd("a3", "LOGOUT")
    elif a.name_ == "auth-plain-sasl-ir":
        c = Raw(a.connect, a.port)
        c.line()
        blob = base64.b64encode(("\0%s\0%s" % (a.user, a.password)).encode())
        c.cmd("a1", "AUTHENTICATE PLAIN " + blob.decode())
        c.cmd("a2", "LOGOUT")
    elif a.name_ == "bruteforce":
        # a.count connections at once, one wrong password each, as
        # password-guessing tools run parallel tasks.  (One after another
        # would take minutes: dovecot's anvil doubles its delay after each
        # failure from an address, up to 15 s.)
        import threading
        start = threading.Barrier(a.count)
        results = {}

        def one(n):
            c = Raw(a.connect, a.port)
            c.line()
            start.wait()
            time.sleep(0.05 * n)
            results[n] = c.cmd("b1", 'LOGIN %s "guess-%04d"' % (a.user, n + 1))
            c.cmd("b2", "LOGOUT")
            c.close()
        ts = [threading.Thread(target=one, args=(n,)) for n in range(a.count)]
        for t in ts:
            t.start()
            time.sleep(0.02)
        for t in ts:
            t.join()
        log("bruteforce: %d failed logins, %d connections in parallel"
            % (sum(1 for r in results.values() if b" NO " in r), a.count))
    elif a.name_ == "starttls-command-injection":
        c = Raw(a.connect, a.port, name=a.sni)
        c.line()
        c.cmd("a1", "CAPABILITY")
        # One write, one segment: the NOOP follows STARTTLS before the
        # server has answered (CVE-2011-0411 class).
        c.send("a2 STARTTLS\r\na3 NOOP\r\n")
        c.until_tagged("a2")
        # dovecot does not discard the pipelined bytes: it reads them as
        # the start of the TLS handshake, which then fails.
        try:
            c.tls()
            c.cmd("a4", "CAPABILITY")
            c.cmd("a5", "LOGOUT")
        except (ssl.SSLError, OSError, EOFError) as e:
            log("TLS: failed: %s" % e)
    elif a.name_ == "plaintext-after-starttls":
        c = Raw(a.connect, a.port)
        c.line()
        c.cmd("a1", "STARTTLS")
        c.send("a2 NOOP\r\n")
        try:
            while True:
                c.line()
        except (EOFError, OSError) as e:
            log("end:", e)
    elif a.name_ == "starttls-abandoned":
        c = Raw(a.connect, a.port)
        c.line()
        c.cmd("a1", "STARTTLS")
        time.sleep(0.2)
        c.close()
        log("closed without a TLS handshake")
    elif a.name_ == "starttls-refused":
        c = Raw(a.connect, a.port)
        c.line()
        c.cmd("a1", "CAPABILITY")
        c.cmd("a2", "STARTTLS")
        c.cmd("a3", "LOGOUT")
    elif a.name_ == "fetch-literal":
        c = Raw(a.connect, a.port)
        c.line()
        c.cmd("a1", 'LOGIN %s "%s"' % (a.user, a.password))
        msg = big_message(a.size)
        c.send("a2 APPEND INBOX {%d}\r\n" % len(msg))
        c.line()                                  # "+ OK"
        c.send(msg + b"\r\n")
        c.until_tagged("a2")
        c.cmd("a3", "SELECT INBOX")
        c.cmd("a4", "FETCH 1 BODY.PEEK[]")
        c.cmd("a5", "LOGOUT")
    elif a.name_ == "compress":
        c = Raw(a.connect, a.port)
        c.line()
        c.cmd("a1", 'LOGIN %s "%s"' % (a.user, a.password))
        c.cmd("a2", "CAPABILITY")
        c.cmd("a3", "COMPRESS DEFLATE")
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        dec = zlib.decompressobj(-15)

        def zcmd(tag, text):
            data = ("%s %s\r\n" % (tag, text)).encode()
            log("C(deflate): %r" % data)
            c.s.sendall(comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH))
            out = b""
            while (b"\r\n" + tag.encode() + b" ") not in b"\r\n" + out:
                d = c.s.recv(65536)
                if not d:
                    break
                out += dec.decompress(d)
            for ln in out.split(b"\r\n"):
                if ln:
                    log("S(inflated): %r" % ln[:200])
        zcmd("a4", "SELECT INBOX")
        zcmd("a5", "FETCH 1:* (FLAGS RFC822.SIZE)")
        zcmd("a6", "LOGOUT")
    elif a.name_ == "capability":
        c = Raw(a.connect, a.port)
        c.line()
        c.cmd("a1", "CAPABILITY")
        c.cmd("a2", "LOGOUT")
    elif a.name_ == "preauth-select":
        c = Raw(a.connect, a.port)
        c.line()
        c.cmd("a1", "SELECT INBOX")
        c.cmd("a2", "LOGOUT")
    else:
        log("unknown raw scenario", a.name_)
        return 2
    return 0


def serve_preauth(a):
    """Server side (run in the server namespace): accept one connection and
    hand it to dovecot's imap binary, already logged in as the user (the
    way `ssh host /usr/lib/dovecot/imap` and inetd set-ups run it): dovecot
    itself greets with PREAUTH."""
    import subprocess
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.connect, a.port))
    ls.listen(1)
    print("listening", flush=True)
    conn, peer = ls.accept()
    ls.close()
    # Pipes, as ssh gives them: dovecot's imap refuses a socket on stdin
    # ("must not be started from inetd").
    import threading
    p = subprocess.Popen(["/usr/lib/dovecot/imap", "-c", a.conf, "-u", a.user],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         bufsize=0)

    def up():
        while True:
            d = conn.recv(65536)
            if not d:
                break
            p.stdin.write(d)
        p.stdin.close()
    t = threading.Thread(target=up, daemon=True)
    t.start()
    while True:
        d = p.stdout.read1(65536) if hasattr(p.stdout, "read1") \
            else os.read(p.stdout.fileno(), 65536)
        if not d:
            break
        conn.sendall(d)
    p.wait()
    conn.shutdown(socket.SHUT_RDWR)
    conn.close()
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["imaplib", "raw", "serve-preauth"])
    p.add_argument("name_", nargs="?", default="")
    p.add_argument("--connect", default="10.77.0.1")
    p.add_argument("--port", type=int, default=143)
    p.add_argument("--name", help="server name (SNI, certificate name)")
    p.add_argument("--sni", help="SNI for the raw client's TLS")
    p.add_argument("--user", default="alice")
    p.add_argument("--password", default="")
    p.add_argument("--ssl", action="store_true", help="IMAP4_SSL")
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--cafile")
    p.add_argument("--verify-name", action="store_true")
    p.add_argument("--auth", default="login",
                   choices=["login", "plain", "cram-md5", "none"])
    p.add_argument("--id", action="store_true")
    p.add_argument("--select", action="store_true")
    p.add_argument("--compress", action="store_true",
                   help="COMPRESS DEFLATE after login (imaplib)")
    p.add_argument("--capability-only", action="store_true")
    p.add_argument("--count", type=int, default=12)
    p.add_argument("--size", type=int, default=12000)
    p.add_argument("--conf", help="dovecot config (serve-preauth)")
    p.add_argument("--keylog", help="SSLContext.keylog_filename")
    p.add_argument("--tls-max", choices=["1.2", "1.3"])
    p.add_argument("--ciphers", help="SSLContext.set_ciphers (TLS <= 1.2)")
    a = p.parse_args()
    if a.kind == "serve-preauth":
        return serve_preauth(a)
    if a.kind == "imaplib":
        return run_imaplib(a)
    return raw_scenario(a)


if __name__ == "__main__":
    sys.exit(main())
