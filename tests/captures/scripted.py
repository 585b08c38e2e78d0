#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""STARTTLS cases no real server is willing to play, from a scripted one.

    tests/captures/scripted.py            (root; writes pcaps/scripted-*)
    ONLY=inject tests/captures/scripted.py

A network namespace made here (iwscr-PID, its loopback only: nothing leaves
it) holds a small IMAP server written below, a real client (python's
imaplib) and tcpdump.  Each scenario writes, like make-captures.sh does
for dovecot,

    pcaps/NAME.pcap, pcaps/NAME.expect.json     (checked by t_pcaps.py)
    tests/captures/logs/NAME.{server,client,tshark}.log  (passwords masked)

and every expected value comes from what the scripted server sent (its
log) and the client's own output (imaplib's protocol trace, its ssl
module), checked against tshark's view of the capture (capture.py's Facts
and ImapView) before anything is written; never from imapwatch.

  scripted-starttls-plaintext-answered
      The client gets OK to STARTTLS, goes on in cleartext (LOGIN: imaplib
      asked to STARTTLS by hand, as a client that ignores its own request
      would) and the server answers it in cleartext.  DESIGN.md: that is
      plaintext_after_starttls, and the server's answer, sent after the
      client spoke, is not starttls_response_injection.
  scripted-starttls-response-injection
      The server sends an untagged response in the same segment as its
      OK to STARTTLS, before the client sent anything after the OK, then
      completes TLS (imaplib drops the bytes with its old buffer, checks
      the certificate and logs in under TLS): starttls_response_injection
      and nothing else of STARTTLS.
"""

import argparse
import ast
import json
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
sys.path.insert(0, HERE)

import capture  # noqa: E402  (Facts, ImapView, Cert, catalogue, masking)

PY = "/usr/bin/python3"
NS = "iwscr-%d" % os.getpid()
ADDR, PORT = "127.0.0.1", 143
NAME = "imap.example.test"
USER, PW = "scripted", "Scripted-Secret-5309"
CAPS = b"IMAP4rev1 SASL-IR ID STARTTLS LOGINDISABLED"
GREETING = b"* OK [CAPABILITY " + CAPS + b"] scripted server ready\r\n"
INJECTED = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n"
CERT = "good"


def die(msg):
    raise capture.Failed(msg)


# ------------------------------------------------------------ the server

def serve(mode, certs):
    """One connection, then exit.  Logs each write (one sendall, one
    segment on the loopback) and each line read, on stdout."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ADDR, PORT))
    srv.listen(1)
    print("ready", flush=True)
    c, _ = srv.accept()
    f = c.makefile("rb")
    tls = False

    def send(data):
        c.sendall(data)
        print("S: %r" % data, flush=True)

    send(GREETING)
    while True:
        line = f.readline()
        if not line:
            break
        print("C: %r" % line, flush=True)
        words = line.split()
        tag, cmd = words[0], words[1].upper() if len(words) > 1 else b""
        if cmd == b"CAPABILITY":
            caps = b"IMAP4rev1 SASL-IR ID AUTH=PLAIN" if tls else CAPS
            send(b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK done\r\n")
        elif cmd == b"STARTTLS" and mode == "inject":
            # the OK and the injected response in one write: one segment
            send(tag + b" OK Begin TLS negotiation now\r\n" + INJECTED)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(os.path.join(certs, CERT + ".chain.pem"),
                                os.path.join(certs, CERT + ".key"))
            c = ctx.wrap_socket(c, server_side=True)
            f = c.makefile("rb")
            tls = True
            print("TLS %s %s" % (c.version(), c.cipher()[0]), flush=True)
        elif cmd == b"STARTTLS":
            send(tag + b" OK Begin TLS negotiation now\r\n")
            first = c.recv(1, socket.MSG_PEEK)
            print("after OK the client sends %r first" % first, flush=True)
        elif cmd == b"LOGIN" and not tls:
            send(tag + b" BAD [PRIVACYREQUIRED] TLS negotiation was "
                 b"expected\r\n")
        elif cmd == b"LOGIN":
            send(tag + b" OK Logged in\r\n")
        elif cmd == b"LOGOUT":
            send(b"* BYE Logging out\r\n" + tag + b" OK Logout completed\r\n")
            break
        else:
            send(tag + b" OK done\r\n")
    c.close()


# ------------------------------------------------------------ the client

def client(mode, certs):
    """python's imaplib, its protocol trace (debug 4) on stderr."""
    import imaplib
    imaplib.Debug = 4
    m = imaplib.IMAP4(ADDR, PORT)
    if mode == "inject":
        m.host = NAME               # SNI and the certificate's name check
        ctx = ssl.create_default_context(cafile=os.path.join(certs,
                                                             "ca.pem"))
        typ, _ = m.starttls(ctx)
        print("STARTTLS %s; TLS %s %s; certificate verified for %s"
              % (typ, m.sock.version(), m.sock.cipher()[0], NAME),
              flush=True)
    else:
        # STARTTLS by hand: OK, but the socket is never wrapped
        typ, dat = m._simple_command("STARTTLS")
        print("STARTTLS %s %s; going on without TLS" % (typ, dat),
              flush=True)
    try:
        typ, dat = m.login(USER, PW)
        print("LOGIN %s %s" % (typ, dat), flush=True)
    except m.error as e:
        print("LOGIN refused: %s" % e, flush=True)
    print("LOGOUT %s" % (m.logout()[0],), flush=True)


# ------------------------------------------------------------ namespace

def sh(*argv, **kw):
    return subprocess.run(list(argv), capture_output=True, text=True, **kw)


def in_ns(*argv, **kw):
    return subprocess.Popen(["ip", "netns", "exec", NS] + list(argv), **kw)


def setup_ns():
    sh("ip", "netns", "del", NS)
    if sh("ip", "netns", "add", NS).returncode != 0 or \
            sh("ip", "-n", NS, "link", "set", "lo", "up").returncode != 0:
        die("cannot make the network namespace %s" % NS)


def cleanup_ns():
    for pid in sh("ip", "netns", "pids", NS).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
    sh("ip", "netns", "del", NS)


def run_scenario(mode, work):
    """Server, tcpdump and client in the namespace; (pcap, logs)."""
    pcap = os.path.join(work, mode + ".pcap")
    certs = os.path.join(HERE, "certs")
    errp = pcap + ".tcpdump"
    td = in_ns("tcpdump", "-i", "lo", "-n", "-s", "0", "-U", "-Z", "root",
               "--immediate-mode", "-w", pcap,
               "tcp", "port", str(PORT), stdout=subprocess.DEVNULL,
               stderr=open(errp, "w"))
    for _ in range(200):
        if "listening on" in open(errp).read():
            break
        time.sleep(0.05)
    else:
        die("tcpdump did not start: " + open(errp).read())
    srv = in_ns(PY, __file__, "--serve", mode, certs, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
    if srv.stdout.readline().strip() != "ready":
        die("the scripted server did not start")
    cli = in_ns(PY, __file__, "--client", mode, certs,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    client_log = cli.communicate(timeout=60)[0]
    server_log = srv.communicate(timeout=30)[0]
    time.sleep(0.5)
    td.send_signal(signal.SIGINT)
    td.wait(timeout=10)
    tdlog = open(errp).read()
    if not re.search(r"\b0 packets dropped by kernel", tdlog):
        die("tcpdump dropped packets: " + tdlog)
    if cli.returncode != 0 or srv.returncode != 0:
        die("client (%d) or server (%d) failed:\n%s\n%s" % (
            cli.returncode, srv.returncode, client_log, server_log))
    return pcap, {"server": server_log, "client": client_log}


# ------------------------------------------------------------ checking

def server_writes(log):
    """What the server wrote, one entry a write, as bytes."""
    return [ast.literal_eval(m.group(1))
            for m in re.finditer(r"^S: (b'.*')$", log, re.M)]


def segments(stream):
    """(from_client, payload) of the stream's data segments, in order."""
    return [(fc, data) for fc, _, data in stream.segs]


def starttls_ok_index(segs):
    for i, (fc, data) in enumerate(segs):
        if not fc and b" OK Begin TLS negotiation now\r\n" in data:
            return i
    die("tshark shows no OK to STARTTLS from the server")


def common_session(view, stream):
    st = view.starttls
    if st is None or st.get("status") != "OK":
        die("tshark's IMAP view: no STARTTLS answered OK")
    if "STARTTLS" not in view.caps or "LOGINDISABLED" not in view.caps:
        die("tshark's IMAP view: the capabilities are not the script's")
    return {"client_ip": stream.client_ip, "client_port":
            stream.client_port, "server_ip": stream.server_ip,
            "server_port": stream.server_port, "event_type": "imap"}


def check_answered(facts, logs):
    """tshark: after the OK segment the client's next segment is its
    LOGIN in clear, and the server's answer comes after it; no TLS."""
    s = facts.stream(0)
    view = capture.ImapView(s)
    segs = segments(s)
    i = starttls_ok_index(segs)
    nxt = [(fc, d) for fc, d in segs[i + 1:]]
    if not nxt or not nxt[0][0] or b" LOGIN " not in nxt[0][1]:
        die("tshark: the client's LOGIN does not follow the OK")
    if s.records or s.ch is not None:
        die("tshark: TLS records in a session that never started TLS")
    if "going on without TLS" not in logs["client"] or \
            "LOGIN refused" not in logs["client"]:
        die("the client's log does not show LOGIN sent without TLS")
    if "after OK the client sends b'" not in logs["server"] or \
            "sends b'\\x16'" in logs["server"]:
        die("the server's log does not show cleartext after the OK")
    login = next(c for c in view.cmds if c["command"] == "LOGIN")
    sess = common_session(view, s)
    sess["expect"] = {"imap.mode": "starttls",
                      "imap.starttls.offered": True,
                      "imap.starttls.requested": True,
                      "imap.starttls.status": "OK",
                      "imap.starttls.response_injected_bytes": None}
    sess["source"] = {
        "imap.mode": "tshark IMAP view: STARTTLS answered OK",
        "imap.starttls.offered": "the script's greeting; tshark",
        "imap.starttls.requested": "imaplib trace; tshark",
        "imap.starttls.status": "the server's log; tshark",
        "imap.starttls.response_injected_bytes":
        "the server wrote nothing after its OK before the client's LOGIN"}
    present = [
        ("plaintext_after_starttls", "tshark: the client's '%s LOGIN' is "
         "its first segment after the OK; imaplib trace" % login["tag"]),
        ("cleartext_login", "tshark IMAP view: LOGIN %s in clear, no TLS "
         "record in the stream" % login["username"]),
        ("starttls_failed", "tshark: OK to STARTTLS and no TLS record at "
         "all"),
    ]
    unasserted = {
        # DESIGN.md does not say whether LOGINDISABLED of the cleartext
        # phase still holds after an OK to STARTTLS (RFC 3501 discards
        # capabilities there), nor whether a client that asked for TLS
        # and never used it "did not use" STARTTLS
        "login_despite_logindisabled": "undefined after OK",
        "starttls_not_used": "undefined after OK"}
    return [sess], present, unasserted


def check_inject(facts, logs):
    """tshark: the segment with the OK holds the injected response too,
    and the client's next segment is its ClientHello; TLS completes."""
    s = facts.stream(0)
    view = capture.ImapView(s)
    segs = segments(s)
    i = starttls_ok_index(segs)
    if INJECTED not in segs[i][1] or \
            not segs[i][1].endswith(b"now\r\n" + INJECTED):
        die("tshark: the injected response is not in the OK's segment")
    writes = server_writes(logs["server"])
    if not any(w.endswith(b"now\r\n" + INJECTED) for w in writes):
        die("the server's log has no write of the OK with the injection")
    nxt = [(fc, d) for fc, d in segs[i + 1:]]
    if not nxt or not nxt[0][0] or nxt[0][1][:1] != b"\x16":
        die("tshark: the client's first segment after the OK is not TLS")
    if s.ch is None or s.ch["sni"] != NAME or s.sh is None:
        die("tshark: no ClientHello with SNI %s and ServerHello" % NAME)
    m = re.search(r"TLS (TLSv[\d.]+) (\S+); certificate verified",
                  logs["client"])
    if not m or capture.tls_version_name(m.group(1)) != s.sh["version"]:
        die("imaplib's TLS version does not match tshark's ServerHello")
    if not re.search(r"^LOGIN OK", logs["client"], re.M):
        die("imaplib did not log in under TLS")
    cert = capture.Cert(CERT)
    if not cert.checkhost(NAME) or cert.key_bits < 2048 or \
            cert.self_signed or "sha256" not in cert.sig_alg.lower():
        die("the certificate is not the plain good one expected")
    sess = common_session(view, s)
    sess["expect"] = {"imap.mode": "starttls",
                      "imap.starttls.status": "OK",
                      "imap.starttls.response_injected_bytes": len(INJECTED),
                      "tls.sni": NAME,
                      "tls.version": s.sh["version"]}
    sess["source"] = {
        "imap.mode": "tshark: STARTTLS answered OK, then TLS",
        "imap.starttls.status": "the server's log; tshark",
        "imap.starttls.response_injected_bytes":
        "the server's log: %d bytes written with the OK" % len(INJECTED),
        "tls.sni": "imaplib given %s; tshark ClientHello" % NAME,
        "tls.version": "imaplib's ssl (%s) and tshark ServerHello"
        % m.group(1)}
    present = [("starttls_response_injection", "the server's log: '%s' "
                "written with its OK, in one segment (tshark), before the "
                "client's ClientHello" % INJECTED.decode().strip())]
    return [sess], present, {}


SCENARIOS = [
    ("scripted-starttls-plaintext-answered", "answered", check_answered,
     "imaplib gets OK to STARTTLS, goes on in cleartext (LOGIN) and the "
     "scripted server answers in cleartext: plaintext_after_starttls, no "
     "starttls_response_injection"),
    ("scripted-starttls-response-injection", "inject", check_inject,
     "the scripted server sends an untagged response in the segment of its "
     "OK to STARTTLS, then TLS 1.3 with imaplib, which logs in under TLS"),
]


def expectation(name, text, pcap, sessions, present, unasserted):
    ids = capture.catalogue()
    pres = {sig for sig, _ in present}
    return {
        "capture": name + ".pcap",
        "scenario": text,
        "passwords": [PW],
        "sessions": sessions,
        "alerts_present": [{"signature": sig, "client_port":
                            sessions[0]["client_port"], "source": src}
                           for sig, src in present],
        "alerts_absent": [i for i in ids if i not in pres and
                          i not in unasserted],
        "anomalies": 0,
        "anomalies_source": "the script's traffic on a loopback: tshark "
                            "marks no packet malformed",
        "not_asserted": sorted(unasserted),
        "not_asserted_why": unasserted,
    }


def write(name, pcap, exp, logs, facts):
    shutil.copyfile(pcap, os.path.join(ROOT, "pcaps", name + ".pcap"))
    with open(os.path.join(ROOT, "pcaps", name + ".expect.json"), "w") as f:
        json.dump(exp, f, indent=1)
        f.write("\n")
    logs = dict(logs, tshark=facts.summary())
    for label, text in logs.items():
        with open(os.path.join(HERE, "logs", "%s.%s.log" % (name, label)),
                  "w") as f:
            f.write(capture.mask_passwords(text, [PW]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", nargs=2)
    ap.add_argument("--client", nargs=2)
    a = ap.parse_args()
    if a.serve:
        return serve(*a.serve)
    if a.client:
        return client(*a.client)
    if os.geteuid() != 0:
        sys.exit("scripted.py: must run as root (network namespace, "
                 "tcpdump)")
    capture.ROOT = ROOT
    capture.CERTS = os.path.join(HERE, "certs")
    work = tempfile.mkdtemp(prefix="iwscr.")
    only = os.environ.get("ONLY", "")
    try:
        setup_ns()
        for name, mode, check, text in SCENARIOS:
            if only not in name:
                continue
            pcap, logs = run_scenario(mode, work)
            facts = capture.Facts(pcap)
            if facts.malformed:
                die("%s: tshark marks %d packets malformed" % (
                    name, facts.malformed))
            sessions, present, unasserted = check(facts, logs)
            write(name, pcap, expectation(name, text, pcap, sessions,
                                          present, unasserted), logs, facts)
            print("scripted.py: wrote pcaps/%s.pcap" % name)
    finally:
        cleanup_ns()
        if os.environ.get("KEEP"):
            print("scripted.py: work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
