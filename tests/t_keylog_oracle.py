#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Our TLS decryption against tshark's, on the captures with key logs.

For every pcaps/keylog/NAME.json (made by tests/captures/keylog.py from
real dovecot, s_server, curl, s_client and imaplib sessions and the key
logs those clients wrote):

  - tshark 4.0 with -o tls.keylog_file:NAME.keylog decrypts each session
    whose keys are in the log (so the key log is right), and decrypts
    nothing of a session whose keys were removed or altered;
  - $IW_BUILD/tests/iw-tlsdecrypt (imapwatch's engine and reassembly, the
    decryption core, the key log loader) gives, per direction, the same
    bytes as `tshark -q -z follow,tls,raw,N`;
  - a session whose keys are missing says no_keys, one with wrong keys
    authentication_failed, and nothing comes out of either;
  - the version and suite are those the clients printed and tshark shows;
    KeyUpdate counts equal tshark's KeyUpdate messages; 0-RTT data is
    decrypted when the server took it and skipped when it refused it;
  - under TLS 1.3 the decrypted handshake holds the leaf tshark finds in
    the decrypted Certificate message, which is the DER of the file the
    server was given (openssl x509); a client that refused the certificate
    sent an alert we decrypt, as tshark does;
  - no byte of any secret of the key log appears in anything the tool
    prints.
"""

import base64
import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("IW_BUILD", os.path.join(ROOT, "build"))
TOOL = os.path.join(BUILD, "tests", "iw-tlsdecrypt")


EARLY = b"a1 CAPABILITY\r\n"      # the 0-RTT data of the captures
VERSIONS = {"TLS 1.0": 0x301, "TLS 1.1": 0x302, "TLS 1.2": 0x303,
            "TLS 1.3": 0x304}


def ok(cond, what):
    print("%s - %s" % ("ok" if cond else "not ok", what))
    return cond


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True)


def follow(pcap, keylog, streams):
    """tshark's decrypted application data per stream: {stream: (node 0
    address, [bytes of node 0, bytes of node 1])}."""
    argv = ["tshark", "-r", pcap, "-o", "tls.keylog_file:" + keylog, "-q"]
    for s in streams:
        argv += ["-z", "follow,tls,raw,%d" % s]
    out = run(argv).stdout
    res = {}
    for block in out.split("=" * 67):
        m = re.search(r"Filter: tcp.stream eq (\d+)", block)
        if not m:
            continue
        node0 = re.search(r"Node 0: (\S+)", block).group(1)
        data = [b"", b""]
        for ln in block.splitlines():
            if re.match(r"^\t?[0-9a-f]+$", ln):
                side = 1 if ln.startswith("\t") else 0
                data[side] += bytes.fromhex(ln.strip())
        res[int(m.group(1))] = (node0, data)
    return res


def tshark_tls(pcap, keylog):
    """Per stream, with the key log: handshake types and alerts per
    direction (by source port), certificates (DER hex)."""
    out = run(["tshark", "-r", pcap, "-n", "-o", "tls.keylog_file:" + keylog,
               "-Y", "tls", "-T", "fields", "-E", "separator=|",
               "-e", "tcp.stream", "-e", "tcp.srcport",
               "-e", "tls.handshake.type", "-e", "tls.alert_message.desc",
               "-e", "tls.handshake.certificate"]).stdout
    res = {}
    for ln in out.splitlines():
        p = ln.split("|")
        if len(p) < 5 or not p[0]:
            continue
        s = res.setdefault(int(p[0]), {"types": {}, "alerts": {},
                                        "certs": []})
        port = int(p[1])
        for t in filter(None, p[2].split(",")):
            s["types"].setdefault(port, []).append(int(t))
        for a in filter(None, p[3].split(",")):
            s["alerts"].setdefault(port, []).append(int(a))
        for c in filter(None, p[4].split(",")):
            s["certs"].append(c.replace(":", "").lower())
    return res


_clear = {}


def tshark_clear(pcap):
    """Alerts tshark sees without any key: (stream, port, desc)."""
    if pcap not in _clear:
        out = run(["tshark", "-r", pcap, "-n", "-Y", "tls.alert_message",
                   "-T", "fields", "-E", "separator=|", "-e", "tcp.stream",
                   "-e", "tcp.srcport", "-e",
                   "tls.alert_message.desc"]).stdout
        _clear[pcap] = [ln.split("|") for ln in out.splitlines()]
    return _clear[pcap]


def clear_alerts(rows, stream, port):
    out = []
    for r in rows:
        if len(r) == 3 and r[0] == str(stream) and r[1] == str(port):
            out += [int(x) for x in r[2].split(",") if x]
    return out


def der_of(path):
    r = subprocess.run(["openssl", "x509", "-in", os.path.join(ROOT, path),
                        "-outform", "DER"], capture_output=True)
    return r.stdout


def secrets_of(keylog):
    out = []
    for ln in open(keylog):
        p = ln.split()
        if len(p) == 3:
            out.append(p[2].lower())
    return out


def check_session(name, s, ours, tsh, tls, pcap):
    port = s["client_port"]
    what = "%s :%d (%s)" % (name, port, s["client_label"])
    o = ours.get(port)
    if not ok(o is not None, "%s: our tool saw the connection" % what):
        return
    data = {d: base64.b64decode(o[d]["data_b64"])
            for d in ("toserver", "toclient")}
    hs = {d: base64.b64decode(o[d]["handshake_b64"])
          for d in ("toserver", "toclient")}
    node0, tdata = tsh.get(s["tcp_stream"], ("", [b"", b""]))
    if node0.endswith(":%d" % port):
        t_c, t_s = tdata
    else:
        t_s, t_c = tdata
    refused = s.get("client_verify") == "refused"
    if s["keys"] == "logged":
        if s.get("version"):
            ok(o["version"] == VERSIONS[s["version"]] and
               o["suite"] == s.get("cipher_id", o["suite"]),
               "%s: our session reads %s %s, as the client and tshark"
               % (what, s["version"], s.get("cipher", "")))
        if not refused:
            ok(len(t_c) + len(t_s) > 0,
               "%s: tshark decrypts it with the key log (%d + %d bytes)"
               % (what, len(t_c), len(t_s)))
        if s.get("early_data") == "rejected":
            # tshark cannot tell that the server refused the 0-RTT data
            # and shows it; we skip exactly those bytes
            t_c = t_c[len(EARLY):] if t_c.startswith(EARLY) else None
        ok(data["toserver"] == t_c and data["toclient"] == t_s,
           "%s: our decrypted bytes equal tshark's follow,tls,raw both "
           "ways (%d + %d)" % (what, len(data["toserver"]),
                               len(data["toclient"])))
        if refused:
            # it stopped in the handshake: no application secrets logged
            ok(o["auth_failures"] == 0 and o["toserver"]["state"] in
               ("decrypting", "no_keys") and o["toclient"]["state"] in
               ("decrypting", "no_keys"), "%s: a refused handshake ends "
               "without an authentication failure (%s, %s)" % (
                   what, o["toserver"]["state"], o["toclient"]["state"]))
        else:
            ok(o["toserver"]["state"] == "decrypting" and
               o["toclient"]["state"] == "decrypting" and
               o["auth_failures"] == 0, "%s: both directions still "
               "decrypting at the end" % what)
    elif s["keys"] in ("removed", "altered"):
        ok(len(t_c) == 0 and len(t_s) == 0,
           "%s: keys %s: tshark decrypts nothing" % (what, s["keys"]))
        ok(o["toserver"]["state"] == s["expect_state"] and
           o["toclient"]["state"] == s["expect_state"] and
           not data["toserver"] and not data["toclient"] and
           not hs["toserver"] and not hs["toclient"],
           "%s: keys %s: both directions say %s, nothing comes out"
           % (what, s["keys"], s["expect_state"]))
        if s["keys"] == "altered":
            ok(o["auth_failures"] == 2, "%s: wrong keys fail authentication "
               "at once, each direction (%d)" % (what, o["auth_failures"]))
    else:
        ok(not t_c and not t_s and not data["toserver"] and
           not data["toclient"], "%s: the client refused the certificate "
           "before it had keys: no application data, none decrypted" % what)
    st = tls.get(s["tcp_stream"], {"types": {}, "alerts": {}, "certs": []})
    if "key_updates_toserver" in s:
        tku = st["types"].get(port, []).count(24)
        tku_s = sum(v.count(24) for p, v in st["types"].items()
                    if p != port)
        ok(o["toserver"]["key_updates"] == s["key_updates_toserver"] ==
           tku and o["toclient"]["key_updates"] == tku_s,
           "%s: KeyUpdate followed: %d from the client, %d from the server,"
           " as tshark counts" % (what, tku, tku_s))
    if s.get("early_data") == "accepted":
        ok(o["early_records"] >= 1 and
           data["toserver"].startswith(b"a1 CAPABILITY\r\n"),
           "%s: the accepted 0-RTT data decrypted, first in the client's "
           "bytes" % what)
    if s.get("early_data") == "rejected":
        ok(o["early_skipped"] >= 1 and o["early_records"] == 0 and
           b"a1 CAPABILITY" not in data["toserver"],
           "%s: the refused 0-RTT data skipped, not delivered, not a "
           "failure" % what)
    if s.get("hello_retry_request"):
        ok(data["toserver"] and data["toserver"] == t_c,
           "%s: decrypted after a HelloRetryRequest" % what)
    cert = s.get("certificate")
    if cert and s.get("version") == "TLS 1.3" and s["keys"] == "logged":
        der = der_of(cert["file"])
        ok(st["certs"] and st["certs"][0] == der.hex(),
           "%s: tshark finds the leaf in the decrypted Certificate, and it "
           "is %s (openssl x509)" % (what, cert["file"]))
        ok(der in hs["toclient"], "%s: our decrypted handshake holds that "
           "leaf" % what)
    if refused and s["keys"] == "logged" and s.get("version") is None:
        # the client's refusal: a fatal alert, in clear if the client had
        # not switched keys yet, else encrypted (we must decrypt it)
        t_al = st["alerts"].get(port, [])
        clear = clear_alerts(tshark_clear(pcap), s["tcp_stream"], port)
        ok(t_al and (clear == t_al or o["toserver"]["alerts"] >= 1),
           "%s: the refusing client's alert %s is %s" % (
               what, t_al, "in clear" if clear == t_al else
               "decrypted, as tshark decrypts it"))
    if s.get("resumed"):
        ok(not st["certs"], "%s: resumed: no certificate, tshark agrees"
           % what)


def main():
    files = sorted(glob.glob(os.path.join(ROOT, "pcaps", "keylog",
                                          "*.json")))
    if not files:
        print("skip - keylog oracle: no pcaps/keylog/*.json")
        return 0
    if not os.access(TOOL, os.X_OK):
        print("skip - keylog oracle: %s is not built" % TOOL)
        return 0
    if run(["tshark", "-v"]).returncode != 0:
        print("skip - keylog oracle: no tshark")
        return 0
    for jf in files:
        truth = json.load(open(jf))
        name = truth["capture"][:-5]
        pcap = os.path.join(ROOT, "pcaps", "keylog", truth["capture"])
        keylog = os.path.join(ROOT, "pcaps", "keylog", truth["keylog"])
        r = run([TOOL, "-k", keylog, "-r", pcap])
        if not ok(r.returncode == 0, "%s: iw-tlsdecrypt runs" % name):
            print(r.stderr[-2000:])
            continue
        ours = {}
        for ln in r.stdout.splitlines():
            o = json.loads(ln)
            ours[o["cport"]] = o
        streams = [s["tcp_stream"] for s in truth["sessions"]]
        tsh = follow(pcap, keylog, streams)
        tls = tshark_tls(pcap, keylog)
        shown = r.stdout + r.stderr
        for s in truth["sessions"]:
            check_session(name, s, ours, tsh, tls, pcap)
        leaked = [x for x in secrets_of(keylog)
                  if x in shown.lower() or x[:32] in shown.lower()]
        ok(not leaked, "%s: no secret of the key log in anything the tool "
           "printed" % name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
