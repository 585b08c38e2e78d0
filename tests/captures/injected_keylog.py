#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Commands injected before STARTTLS's handshake, answered inside TLS or
not, with the key log that lets imapwatch see which.

    tests/captures/injected_keylog.py        (root; writes pcaps/keylog/)

A network namespace made here (iwinj-PID, its loopback only: nothing
leaves it) holds a small IMAP server written below, a client written
below and tcpdump.  The client sends "a STARTTLS", "b CAPABILITY" and
"c NOOP" in one segment (the injection of DESIGN.md's
starttls_command_injection), takes the OK, completes TLS (verifying the
certificate, writing its key log with SSLContext.keylog_filename), reads
what the server sends inside TLS before it sends anything there itself,
then sends "d CAPABILITY" and "e LOGOUT" inside TLS.

  keylog-scripted-injected-answered
      The server reads its input through a buffer it keeps across the
      handshake (the flaw of CVE-2011-0411): it answers b and c inside
      TLS, unasked.
  keylog-scripted-injected-discarded
      The server throws away what it read before the handshake, as RFC
      3501 section 6.2.1 wants (and dovecot does): nothing comes inside
      TLS until the client speaks.

Each writes pcaps/keylog/NAME.pcap, NAME.keylog (the client's) and
NAME.clients.log: the client's log (what it sent, in clear or inside TLS,
and every line it received inside TLS before it spoke there), then the
server's.  tests/t_keylog_injected.py takes its truth from those logs.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "pcaps", "keylog")
PY = "/usr/bin/python3"
NS = "iwinj-%d" % os.getpid()
ADDR, PORT = "127.0.0.1", 143
NAME = "imap.example.test"
CAPS = b"IMAP4rev1 ID STARTTLS LOGINDISABLED"
INJECTED = b"a STARTTLS\r\nb CAPABILITY\r\nc NOOP\r\n"
MODES = {"answered": "keylog-scripted-injected-answered",
         "discarded": "keylog-scripted-injected-discarded"}


def die(msg):
    sys.stderr.write("injected_keylog: %s\n" % msg)
    sys.exit(1)


# ------------------------------------------------------------ the server

def answer(tag, cmd, tls):
    if cmd == b"CAPABILITY":
        caps = b"IMAP4rev1 ID AUTH=PLAIN" if tls else CAPS
        return b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK done\r\n"
    if cmd == b"LOGOUT":
        return b"* BYE Logging out\r\n" + tag + b" OK Logout completed\r\n"
    return tag + b" OK done\r\n"


def serve(mode, certs):
    """One connection, then exit; logs what it reads and writes."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ADDR, PORT))
    srv.listen(1)
    print("ready", flush=True)
    c, _ = srv.accept()
    buf = b""
    tls = False

    def send(data):
        c.sendall(data)
        print("S%s: %r" % (" (TLS)" if tls else "", data), flush=True)

    send(b"* OK [CAPABILITY " + CAPS + b"] scripted server ready\r\n")
    while True:
        while b"\n" not in buf:
            more = c.recv(4096)
            if not more:
                c.close()
                return
            buf += more
        line, buf = buf.split(b"\n", 1)
        line += b"\n"
        print("C%s: %r" % (" (TLS)" if tls else "", line), flush=True)
        words = line.split()
        tag, cmd = words[0], words[1].upper() if len(words) > 1 else b""
        if cmd == b"STARTTLS" and not tls:
            send(tag + b" OK Begin TLS negotiation now\r\n")
            if mode == "answered":
                # the flaw: what was read before TLS stays in the buffer
                print("kept %d bytes read before TLS" % len(buf),
                      flush=True)
            else:
                print("discarded %d bytes read before TLS" % len(buf),
                      flush=True)
                buf = b""
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(os.path.join(certs, "good.chain.pem"),
                                os.path.join(certs, "good.key"))
            c = ctx.wrap_socket(c, server_side=True)
            tls = True
            print("TLS %s %s" % (c.version(), c.cipher()[0]), flush=True)
            continue
        send(answer(tag, cmd, tls))
        if cmd == b"LOGOUT":
            break
    c.close()


# ------------------------------------------------------------ the client

def client(certs, keylog):
    s = socket.create_connection((ADDR, PORT))
    f = s.makefile("rb")
    print("S: %r" % f.readline(), flush=True)
    s.sendall(INJECTED)
    print("C: %r (one segment)" % INJECTED, flush=True)
    line = f.readline()
    print("S: %r" % line, flush=True)
    if not line.startswith(b"a OK"):
        die("STARTTLS refused")
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    ctx.keylog_filename = keylog
    t = ctx.wrap_socket(s, server_hostname=NAME)
    print("TLS %s %s; certificate verified for %s" % (
        t.version(), t.cipher()[0], NAME), flush=True)
    tf = t.makefile("rb")
    t.settimeout(1.5)
    try:
        while True:
            line = tf.readline()
            if not line:
                break
            print("S (TLS, before the client spoke): %r" % line,
                  flush=True)
    except (socket.timeout, TimeoutError):
        print("nothing more from the server in 1.5 s", flush=True)
    t.settimeout(10)
    tf = t.makefile("rb")
    for tag, cmd in ((b"d", b"CAPABILITY"), (b"e", b"LOGOUT")):
        t.sendall(tag + b" " + cmd + b"\r\n")
        print("C (TLS): %r" % (tag + b" " + cmd + b"\r\n"), flush=True)
        while True:
            line = tf.readline()
            print("S (TLS): %r" % line, flush=True)
            if not line or line.startswith(tag + b" "):
                break
    t.close()


# ------------------------------------------------------------ namespace

def sh(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True)


def in_ns(*argv, **kw):
    return subprocess.Popen(["ip", "netns", "exec", NS] + list(argv), **kw)


def run(mode, work):
    pcap = os.path.join(work, mode + ".pcap")
    keylog = os.path.join(work, mode + ".keylog")
    certs = os.path.join(HERE, "certs")
    errp = pcap + ".tcpdump"
    td = in_ns("tcpdump", "-i", "lo", "-n", "-s", "0", "-U", "-Z", "root",
               "--immediate-mode", "-w", pcap, "tcp", "port", str(PORT),
               stdout=subprocess.DEVNULL, stderr=open(errp, "w"))
    for _ in range(200):
        if "listening on" in open(errp).read():
            break
        time.sleep(0.05)
    else:
        die("tcpdump did not start")
    srv = in_ns(PY, __file__, "--serve", mode, certs, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
    if srv.stdout.readline().strip() != "ready":
        die("the scripted server did not start")
    cli = in_ns(PY, __file__, "--client", certs, keylog,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    client_log = cli.communicate(timeout=60)[0]
    server_log = srv.communicate(timeout=30)[0]
    time.sleep(0.5)
    td.send_signal(signal.SIGINT)
    td.wait(timeout=10)
    if not re.search(r"\b0 packets dropped by kernel", open(errp).read()):
        die("tcpdump dropped packets")
    if cli.returncode != 0 or srv.returncode != 0:
        die("client or server failed:\n%s\n%s" % (client_log, server_log))
    name = MODES[mode]
    shutil.copy(pcap, os.path.join(OUT, name + ".pcap"))
    shutil.copy(keylog, os.path.join(OUT, name + ".keylog"))
    os.chmod(os.path.join(OUT, name + ".keylog"), 0o644)
    with open(os.path.join(OUT, name + ".clients.log"), "w") as fp:
        fp.write("# client\n" + client_log + "# server\n" +
                 server_log.replace("ready\n", "", 1))
    print("wrote pcaps/keylog/%s.{pcap,keylog,clients.log}" % name)


def main():
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], sys.argv[3])
        return
    if sys.argv[1:2] == ["--client"]:
        client(sys.argv[2], sys.argv[3])
        return
    if os.geteuid() != 0:
        die("needs root (a network namespace, tcpdump)")
    work = tempfile.mkdtemp(prefix="iwinj.")
    sh("ip", "netns", "del", NS)
    if sh("ip", "netns", "add", NS).returncode != 0 or \
            sh("ip", "-n", NS, "link", "set", "lo", "up").returncode != 0:
        die("cannot make the network namespace")
    try:
        for mode in MODES:
            run(mode, work)
    finally:
        for pid in sh("ip", "netns", "pids", NS).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        sh("ip", "netns", "del", NS)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
