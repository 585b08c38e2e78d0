#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Captures with key logs, for TLS decryption (pcaps/keylog/).

Run by make-captures.sh after capture.py, in the same two namespaces
(KEYLOG=only skips capture.py, KEYLOG=no skips this).  Each scenario of
scenarios_keylog.py starts a real server (dovecot; openssl s_server where
dovecot cannot do it: 0-RTT), captures real clients that write real NSS
key logs (curl with SSLKEYLOGFILE, openssl s_client -keylogfile, python's
imaplib with SSLContext.keylog_filename), and writes

    pcaps/keylog/NAME.pcap          the capture
    pcaps/keylog/NAME.keylog        the key log the clients wrote, edited
                                    only where the scenario says so (one
                                    session's keys removed or altered)
    pcaps/keylog/NAME.json          the truth, per session: what each
                                    client printed about its TLS and how it
                                    exited, what tshark shows, and what
                                    decryption must give
    pcaps/keylog/NAME.clients.log   every client's output, passwords masked

Every declared value is checked against the client's own output and
tshark before anything is written; tests/t_keylog_oracle.py then checks
that tshark decrypts each capture with its key log, and that our
decryption gives the same bytes.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture                                          # noqa: E402
from capture import (Failed, Dropped, die, sh, NAME, USER,  # noqa: E402
                     PW, SERVER4, tls_version_name, iana_name,
                     tshark_cipher_name)

KSCENARIOS = []

HRR_RANDOM = ("cf21ad74e59a6111be1d8c021e65b891"
              "c2a211167abb8c5e079e09e2c8a8339c")


def kscenario(name, text):
    def reg(fn):
        KSCENARIOS.append((name, text, fn))
        return fn
    return reg


class KDovecot(capture.Dovecot):
    """capture.Dovecot with the settings key log scenarios need too:
    ssl_cipher_suites (TLS 1.3), ssl_curve_list, and one login process for
    all connections (service_count = 0), so that its TLS session tickets
    can be used again."""

    def write_conf(self, key, suites=None, curves=None, one_login=False,
                   **kw):
        conf = super().write_conf(key, **kw)
        extra = []
        if suites:
            extra.append("ssl_cipher_suites = %s" % suites)
        if curves:
            extra.append("ssl_curve_list = %s" % curves)
        if one_login:
            extra.append("service imap-login {\n  service_count = 0\n}")
        with open(conf, "a") as f:
            f.write("\n".join(extra) + "\n")
        return conf


class SServer:
    """openssl s_server in the server namespace, for what dovecot does not
    do (0-RTT).  Its standard input stays open while it runs."""

    def __init__(self, ctx, port, *args):
        cert = os.path.join(capture.CERTS, "good")
        self.log = os.path.join(capture.WORK, ctx.name + ".s_server.log")
        self.out = open(self.log, "w")
        argv = ["openssl", "s_server", "-accept", "%s:%d" % (SERVER4, port),
                "-cert", cert + ".chain.pem", "-key", cert + ".key",
                "-naccept", "2", "-ign_eof"] + list(args)
        self.argv = argv
        self.p = subprocess.Popen(["ip", "netns", "exec", capture.SRV] +
                                  argv, stdin=subprocess.PIPE,
                                  stdout=self.out, stderr=subprocess.STDOUT)
        for _ in range(100):
            if port in capture.listening():
                break
            time.sleep(0.05)
        else:
            die("s_server did not listen on %d" % port)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.out.close()
        with open(self.log, errors="replace") as f:
            return "$ " + " ".join(self.argv) + "\n" + f.read()


class KCtx(capture.Ctx):
    """A key log scenario: its clients, their key log, the truth."""

    def __init__(self, name, text, dovecot, ids):
        super().__init__(name, text, dovecot, ids)
        self.keylog = os.path.join(capture.WORK, name + ".keylog")
        if os.path.exists(self.keylog):
            os.unlink(self.keylog)
        self.exits = {}          # client label -> exit status
        self.clients = {}        # client label -> what it is
        self.ksessions = []      # truth, per session
        self.edits = {}          # client random hex -> "removed"/"altered"

    # -- clients that log keys
    def krun(self, label, what, argv, stdin=None, timeout=60):
        r = self.run(label, argv, stdin=stdin, timeout=timeout)
        self.exits[label] = r.returncode
        self.clients[label] = what
        self.logs[label] += "[exit status %d]\n" % r.returncode
        return r

    def curl(self, url, *extra, label="curl"):
        return self.krun(label, "curl", [
            "env", "SSLKEYLOGFILE=" + self.keylog,
            "curl", "-sv", "--max-time", "20",
            "--resolve", "%s:143:%s" % (NAME, SERVER4),
            "--resolve", "%s:993:%s" % (NAME, SERVER4),
            "--cacert", os.path.join(capture.CERTS, "ca.pem"),
            "-u", "%s:%s" % (USER, PW)] + list(extra) + [url])

    def s_client(self, *args, label="s_client", commands=None, port=None,
                 connect=SERVER4):
        starttls = "-starttls" in args
        port = port or (143 if starttls else 993)
        cmds = commands if commands is not None else \
            "a1 LOGIN %s %s\na2 LIST \"\" *\na3 LOGOUT\n" % (USER, PW)
        return self.krun(label, "openssl s_client", [
            "openssl", "s_client", "-connect", "%s:%d" % (connect, port),
            "-crlf", "-ign_eof", "-keylogfile", self.keylog,
            "-CAfile", os.path.join(capture.CERTS, "ca.pem")] + list(args),
            stdin=cmds, timeout=30)

    def s_client_paced(self, lines, *args, label="s_client", port=993):
        """s_client reading its commands one a second, without -ign_eof,
        so that its interactive commands work ('k': KeyUpdate) and it
        ends when its input does (s_server never closes)."""
        feed = "; ".join("printf '%s\\n'; sleep 1" % ln for ln in lines)
        cmd = "(sleep 1; %s; sleep 1) | openssl s_client -connect %s:%d " \
            "-crlf -keylogfile %s -CAfile %s %s" % (
                feed, SERVER4, port, self.keylog,
                os.path.join(capture.CERTS, "ca.pem"), " ".join(args))
        return self.krun(label, "openssl s_client", ["sh", "-c", cmd],
                         timeout=60)

    def imaplib(self, *args, label="imaplib"):
        return self.krun(label, "python3 imaplib", [
            capture.PY, os.path.join(capture.ROOT,
                                     "tests/captures/clients.py"),
            "imaplib", "--keylog", self.keylog, "--password", PW] +
            list(args))

    # -- the truth
    def client_random(self, k):
        """The ClientHello random of stream k, from tshark."""
        st = self.facts.stream(k)
        out = sh(["tshark", "-r", self.pcap, "-n", "-Y",
                  "tcp.stream == %d && tls.handshake.type == 1" % st.idx,
                  "-T", "fields", "-e", "tls.handshake.random"]).stdout
        r = out.split()
        if not r:
            die("%s: no ClientHello in stream %d" % (self.name, st.idx))
        return r[0].replace(":", "").lower()

    def keylog_randoms(self):
        out = set()
        if os.path.exists(self.keylog):
            for ln in open(self.keylog):
                p = ln.split()
                if len(p) == 3:
                    out.add(p[1].lower())
        return out

    def edit_keys(self, k, how):
        """Removes ("removed") or changes ("altered") the key log lines of
        stream k's session."""
        self.edits[self.client_random(k)] = how

    def ksession(self, k, label, version=None, cipher=None, decrypt=True,
                 keys="logged", resumed=None, hrr=None, early=None,
                 key_updates=None, cert=None, verify=None, note=None):
        """Declares session k: checked against the client's output and
        tshark now; the decryption expectations for t_keylog_oracle.py."""
        st = self.facts.stream(k)
        text = self.logs[label]
        t = {"tcp_stream": st.idx, "client_port": st.client_port,
             "server_port": st.server_port, "client": self.clients[label],
             "client_label": label, "client_exit": self.exits[label]}
        src = {}
        rnd = self.client_random(k)
        t["client_random_logged"] = rnd in self.keylog_randoms()
        if keys == "auto":      # whatever the client had logged
            keys = "logged" if t["client_random_logged"] else "none"
            decrypt = keys == "logged"
        if keys == "logged" and not t["client_random_logged"]:
            die("%s: stream %d: the client logged no key for its random"
                % (self.name, k))
        if keys == "none" and t["client_random_logged"]:
            die("%s: stream %d: keys logged, none expected" % (self.name, k))
        t["keys"] = keys
        if version is not None:
            tv = st.sh["version"] if st.sh else None
            cl = capture.parse_client_tls(text)
            if tv != version:
                die("%s: stream %d: %s expected, tshark %s" % (
                    self.name, k, version, tv))
            if cl["version"] is not None and cl["version"] != version:
                die("%s: stream %d: client says %s" % (
                    self.name, k, cl["version"]))
            t["version"] = version
            src["version"] = "tshark ServerHello; %s output" % label
        if cipher is not None:
            tc = tshark_cipher_name(st.sh["suite"])
            cl = capture.parse_client_tls(text)
            if tc != cipher or (cl["cipher"] and cl["cipher"] != cipher):
                die("%s: stream %d: %s expected, tshark %s, client %s" % (
                    self.name, k, cipher, tc, cl["cipher"]))
            t["cipher"] = cipher
            t["cipher_id"] = st.sh["suite"]
            src["cipher"] = "tshark ServerHello; %s output" % label
        if resumed is not None:
            said = re.search(r"^Reused, ", text, re.M) is not None
            if said != resumed:
                die("%s: stream %d: resumed=%s, s_client says %s" % (
                    self.name, k, resumed, "Reused" if said else "New"))
            t["resumed"] = resumed
            src["resumed"] = "s_client: '%s, TLSv1.3'" % (
                "Reused" if said else "New")
        if hrr is not None:
            n = self.server_hellos(k)
            seen = HRR_RANDOM in n
            if seen != hrr:
                die("%s: stream %d: HRR=%s, tshark ServerHello randoms %s"
                    % (self.name, k, hrr, n))
            t["hello_retry_request"] = hrr
            src["hello_retry_request"] = "tshark: a ServerHello with the " \
                "HelloRetryRequest random" if hrr else "tshark: one ServerHello"
        if early is not None:
            m = re.search(r"^Early data was (accepted|rejected)", text, re.M)
            said = m.group(1) if m else None
            if said != early:
                die("%s: stream %d: early data %s, s_client says %s" % (
                    self.name, k, early, said))
            t["early_data"] = early
            src["early_data"] = "s_client: 'Early data was %s'" % early
        if key_updates is not None:
            t["key_updates_toserver"] = key_updates
            src["key_updates_toserver"] = "s_client got %d 'k' command(s); " \
                "tshark with the key log counts the KeyUpdate messages" \
                % key_updates
        if cert is not None:
            t["certificate"] = cert
        if verify is not None:
            t["client_verify"] = verify
            src["client_verify"] = self.verify_source(label, verify)
        if note:
            t["note"] = note
        t["decrypt"] = decrypt
        t["expect_state"] = {"logged": "decrypting" if decrypt else None,
                             "removed": "no_keys",
                             "altered": "authentication_failed",
                             "none": None}[keys]
        if keys == "logged" and not decrypt:
            die("ksession: logged keys that do not decrypt")
        t["source"] = src
        self.ksessions.append(t)
        return t

    def server_hellos(self, k):
        st = self.facts.stream(k)
        out = sh(["tshark", "-r", self.pcap, "-n", "-Y",
                  "tcp.stream == %d && tls.handshake.type == 2" % st.idx,
                  "-T", "fields", "-e", "tls.handshake.random"]).stdout
        return [x.replace(":", "").lower() for x in out.split()]

    def verify_source(self, label, verify):
        """The client's own words for accepting or refusing the
        certificate, checked against its exit status."""
        text, rc = self.logs[label], self.exits[label]
        if verify == "accepted":
            if rc != 0:
                die("%s: %s exited %d, expected to go on" % (
                    self.name, label, rc))
            m = re.search(r"Verify return code: (\d+ \([^)]*\))", text) or \
                re.search(r"(SSL certificate verify result: [^\n]*)", text)
            return "%s exit status 0%s" % (
                label, (", " + m.group(1)) if m else "")
        if rc == 0:
            die("%s: %s exited 0, expected to abort" % (self.name, label))
        m = re.search(r"(certificate verify failed[^\n]*|SSL certificate "
                      r"problem: [^\n]*|verify error:[^\n]*|SSL: no "
                      r"alternative certificate subject name[^\n]*|"
                      r"SSLCertVerificationError[^\n]*)", text)
        if not m:
            die("%s: %s gives no reason for aborting" % (self.name, label))
        return "%s exit status %d: %s" % (label, rc, m.group(1).strip())

    # -- writing
    def finish_keylog(self):
        seen = self.keylog_randoms()
        for rnd in self.edits:
            if rnd not in seen:
                die("%s: no key log line for %s to edit" % (self.name, rnd))
        out = []
        for ln in open(self.keylog) if os.path.exists(self.keylog) else []:
            p = ln.split()
            how = self.edits.get(p[1].lower()) if len(p) == 3 else None
            if how == "removed":
                continue
            if how == "altered":
                last = p[2][-1]
                p[2] = p[2][:-1] + ("0" if last != "0" else "1")
                ln = " ".join(p) + "\n"
            out.append(ln)
        return "".join(out)

    def write(self):
        d = os.path.join(capture.ROOT, "pcaps", "keylog")
        os.makedirs(d, exist_ok=True)
        base = os.path.join(d, self.name)
        if not self.ksessions:
            die("%s: no session declared" % self.name)
        shutil.copyfile(self.pcap, base + ".pcap")
        with open(base + ".keylog", "w") as f:
            f.write(self.finish_keylog())
        os.chmod(base + ".keylog", 0o600)
        truth = {"capture": self.name + ".pcap",
                 "keylog": self.name + ".keylog",
                 "scenario": self.text,
                 "passwords": self.passwords,
                 "sessions": self.ksessions}
        with open(base + ".json", "w") as f:
            json.dump(truth, f, indent=1)
            f.write("\n")
        text = ""
        for label, t in self.logs.items():
            text += "==== %s\n%s\n" % (label, t)
        text = capture.mask_passwords(text, self.passwords)
        text = re.sub(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE"
                      r"-----\n", "[certificate PEM: see tests/captures/"
                      "certs]\n", text, flags=re.S)
        text = re.sub(r"(\n    TLS session ticket:\n)(    [0-9a-f]{4} - .*\n)+",
                      r"\1    [hex dump cut]\n", text)
        text = re.sub(r"(Master-Key|Resumption PSK|PSK identity|Session-ID"
                      r"|Session-ID-ctx): *[0-9A-F]+", r"\1: [cut]", text)
        text = text.replace(capture.WORK, "$WORK").replace(
            capture.ROOT + "/", "")
        with open(base + ".clients.log", "w") as f:
            f.write(text)
        return os.path.getsize(base + ".pcap")


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--srv-ns", required=True)
    ap.add_argument("--cli-ns", required=True)
    ap.add_argument("--iface", required=True)
    ap.add_argument("--only")
    a = ap.parse_args()
    capture.ROOT, capture.WORK = a.root, a.work
    capture.SRV, capture.CLI, capture.IFACE = a.srv_ns, a.cli_ns, a.iface
    capture.CERTS = os.path.join(a.root, "tests/captures/certs")
    import scenarios_keylog  # noqa: F401  (registers the scenarios)
    ids = capture.catalogue()
    dv = KDovecot()
    todo = [s for s in KSCENARIOS if not a.only or a.only in s[0]]
    if not todo:
        print("keylog: no scenario matches %r" % a.only)
        return 0
    failed, made = [], []
    try:
        for name, text, fn in todo:
            t0 = time.time()
            for attempt in range(3):
                ctx = KCtx(name, text, dv, ids)
                try:
                    fn(ctx)
                    size = ctx.write()
                    break
                except Dropped as e:
                    print("keylog: %s: %s, again" % (name, e), flush=True)
                except (Failed, subprocess.TimeoutExpired) as e:
                    print("keylog: FAILED %s: %s" % (name, e), flush=True)
                    keep = os.path.join(a.work, "failed-" + name)
                    os.makedirs(keep, exist_ok=True)
                    for label, t in ctx.logs.items():
                        with open(os.path.join(keep, label + ".log"),
                                  "w") as f:
                            f.write(t)
                    failed.append(name)
                    break
            else:
                failed.append(name)
                continue
            if name in failed:
                continue
            made.append(name)
            print("keylog: %-44s %6d bytes %2d sessions  %.1fs" % (
                name, size, len(ctx.ksessions), time.time() - t0),
                flush=True)
    finally:
        dv.stop()
    print("keylog: %d captures written to pcaps/keylog/" % len(made))
    if not a.only and not failed:
        d = os.path.join(a.root, "pcaps", "keylog")
        for f in os.listdir(d):
            # keylog-scripted-*: injected_keylog.py's, not ours
            if f.split(".")[0] not in made and \
                    not f.startswith("keylog-scripted-"):
                os.unlink(os.path.join(d, f))
                print("keylog: removed stale " + f)
    if failed:
        print("keylog: %d FAILED: %s" % (len(failed), " ".join(failed)))
        return 1
    return 0


if __name__ == "__main__":
    # run as the module "keylog", the one scenarios_keylog.py imports
    import keylog
    sys.exit(keylog.main())
