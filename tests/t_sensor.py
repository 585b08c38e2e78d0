#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Running as a sensor: live capture in a network namespace made here,
-Z, --pidfile, periodic stats, SIGHUP reload and reopen (also through the
contrib logrotate snippet), --write-alerted live, SIGTERM.

In namespace iwsens-PID (its own loopback, nothing leaves it): a small IMAP
server (greeting with STARTTLS, no LOGINDISABLED) and Python's imaplib as
the client; `imapwatch -i lo -Z nobody` watches, with tcpdump beside it as
the independent record of what crossed the wire.

Then -s: two imapwatch -i lo at once, -s 96 and the default, on the same
sessions, against tcpdump -s 0's record of the frames: every data frame
longer than 96 bytes loses its end to the first and to nothing else.

Prints ok/not ok/skip lines (tests/run.sh).  Environment: IMAPWATCH.
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import iwtest  # noqa: E402
from iwtest import IMAPWATCH as IW, ok  # noqa: E402

PY = os.environ.get("PYTHON", "/usr/bin/python3")
NS = "iwsens-%d" % os.getpid()
PORT = 14343
SNAP_PORT = 14344
PASSWORD = "Sensor-Secret-93x"


def events(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
    return out


def in_ns(*cmd, **kw):
    return subprocess.Popen(["ip", "netns", "exec", NS] + list(cmd), **kw)


def wait_for(cond, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


SERVER = r'''
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(8)
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    c.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n")
    f = c.makefile("rb")
    while True:
        line = f.readline()
        if not line:
            break
        tag = line.split()[0]
        if b"CAPABILITY" in line.upper():
            c.sendall(b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n")
        if b"LOGOUT" in line.upper():
            c.sendall(b"* BYE bye\r\n" + tag + b" OK done\r\n")
            break
        c.sendall(tag + b" OK done\r\n")
    c.close()
'''

CLIENT = r'''
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
m.logout()
'''


def session(user, port=PORT):
    p = in_ns(PY, "-c", CLIENT, str(port), user, PASSWORD,
              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.communicate(timeout=20)[0]
    return p.returncode == 0 or print(out.decode(errors="replace"))


def proc_status(pid):
    st = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            st[k] = v.split()
    return st


def setup_ns():
    subprocess.run(["ip", "netns", "del", NS], stderr=subprocess.DEVNULL)
    r = subprocess.run(["ip", "netns", "add", NS])
    r2 = subprocess.run(["ip", "-n", NS, "link", "set", "lo", "up"])
    return r.returncode == 0 and r2.returncode == 0


def cleanup_ns():
    r = subprocess.run(["ip", "netns", "pids", NS], capture_output=True,
                       text=True)
    for pid in r.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
    subprocess.run(["ip", "netns", "del", NS], stderr=subprocess.DEVNULL)


def tshark_fields(pcap, *fields):
    args = ["tshark", "-n", "-r", pcap, "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    r = subprocess.run(args, capture_output=True, text=True)
    return r.returncode, [tuple(l.split("\t")) for l in r.stdout.splitlines()]


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


def check_status(pid, nobody):
    st = proc_status(pid)
    ok(st["Uid"] == [str(nobody.pw_uid)] * 4,
       "-Z nobody: every uid of the running process is nobody's (%s)"
       % " ".join(st["Uid"]))
    ok(st["Gid"] == [str(nobody.pw_gid)] * 4,
       "-Z nobody: every gid is nobody's group (%s)" % " ".join(st["Gid"]))
    ok(st.get("Groups", []) in ([], [str(nobody.pw_gid)]),
       "-Z nobody: no supplementary group of root's left (%s)"
       % " ".join(st.get("Groups", [])))
    ok(int(st["CapEff"][0], 16) == 0 and int(st["CapPrm"][0], 16) == 0,
       "-Z nobody: no capability left (CapEff %s)" % st["CapEff"][0])


def check_stats(evs):
    stats = [e for e in evs if e["event_type"] == "stats"]
    ok(len(stats) >= 3, "periodic stats: %d stats events over the run with "
       "--stats-interval 1" % len(stats))
    if not stats:
        return
    last = stats[-1]["stats"]
    cap, sess = last["capture"], last["sessions"]
    ok(cap["kernel_received"] >= cap["packets"] > 0,
       "stats: pcap_stats kernel_received (%d) >= packets analysed (%d)"
       % (cap["kernel_received"], cap["packets"]))
    ok("kernel_dropped" in cap and "iface_dropped" in cap,
       "stats: kernel and interface drops present")
    ok(last["tcp"]["flows"] >= 3, "stats: flows counted (%d)"
       % last["tcp"]["flows"])
    ok(sess["imap_cleartext"] == 4, "stats: sessions by mode, 4 cleartext "
       "(%d)" % sess["imap_cleartext"])
    ok(sess["findings"]["cleartext_login"] == 4 and
       sess["findings_suppressed"]["cleartext_login"] == 2 and
       sess["findings_repeated"]["logindisabled_missing"] == 3,
       "stats: findings by id (4 cleartext_login, 2 of them suppressed; "
       "logindisabled_missing 3 times repeated)")
    ok(last["memory"]["rss"] > 0 and last["memory"]["peak_rss"] > 0,
       "stats: memory in use and peak")
    ok("events_dropped" in last, "stats: events dropped (sink drops) present")
    idle = [s for s in stats[:-1] if s["stats"]["capture"]["packets"] == 0]
    ok(len(idle) >= 1, "stats: written on an idle link too (%d before the "
       "first packet)" % len(idle))


def check_events(evs, t):
    alerts = [e for e in evs if e["event_type"] == "alert"]
    logins = [e["imap"].get("username") for e in alerts
              if e["alert"]["signature"] == "cleartext_login"]
    ok(sorted(logins) == ["alice", "carol"],
       "HUP reload: bob's cleartext_login suppressed after the reload (both "
       "times: the broken file kept the rule), alice's before and carol's "
       "alerted (%s)" % logins)
    sess = [(e["imap"]["auth"][0]["username"], e["imap"]) for e in evs
            if e["event_type"] == "imap" and e["imap"].get("auth")]
    ok([u for u, _ in sess] == ["alice", "bob", "carol", "bob"],
       "four session events, in order")
    if len(sess) != 4:
        return alerts
    bob = sess[1][1]
    ok(bob.get("findings_suppressed") == ["cleartext_login"] and
       "cleartext_login" in bob.get("findings", []),
       "bob's session event keeps the finding and lists it as suppressed")
    reps = [s.get("findings_repeated") for _, s in sess]
    ok(reps == [None, {"logindisabled_missing": 1},
                {"logindisabled_missing": 2}, {"logindisabled_missing": 3}],
       "alert-once-per-server turned on by the reload: alice's alert counts "
       "as the one, later sessions count the repeats (%s)" % reps)
    ok(sum(1 for e in alerts if e["alert"]["signature"] ==
           "logindisabled_missing") == 1,
       "one logindisabled_missing alert for the server")
    raw = open(os.path.join(t, "ev.json"), encoding="utf-8").read()
    raw += open(os.path.join(t, "ev.json.1"), encoding="utf-8").read()
    ok(PASSWORD not in raw, "no password in the events")
    return alerts


def check_alerted_pcap(t, alerts):
    rc, mine = tshark_fields(os.path.join(t, "alerted.pcap"),
                             "tcp.srcport", "tcp.dstport", "tcp.seq_raw",
                             "tcp.flags")
    ok(rc == 0, "--write-alerted (live): tshark reads the file")
    rc, wire = tshark_fields(os.path.join(t, "wire.pcap"),
                             "tcp.srcport", "tcp.dstport", "tcp.seq_raw",
                             "tcp.flags")
    ports = {e["src_port"] for e in alerts}
    want = [p for p in wire if int(p[0]) in ports or int(p[1]) in ports]
    got_ports = {int(p[0]) for p in mine} | {int(p[1]) for p in mine}
    ok(len(ports) == 4 and got_ports == ports | {PORT},
       "--write-alerted (live): exactly the 4 alerted connections")
    # held packets are written at the first alert: connections may
    # interleave otherwise than on the wire, each one's packets in order
    def by_conn(pkts):
        conns = {}
        for p in pkts:
            key = p[0] if int(p[1]) == PORT else p[1]
            conns.setdefault(key, []).append(p)
        return conns
    ok(by_conn(mine) == by_conn(want) and len(mine) == len(want),
       "--write-alerted (live): every packet of them, each connection's in "
       "order, as tcpdump saw them (%d packets, tcpdump %d)"
       % (len(mine), len(want)))


def start_imapwatch(t, conf):
    err = open(os.path.join(t, "stderr"), "w")
    p = in_ns(IW, "-i", "lo", "-Z", "nobody", "--config", conf,
              "--pidfile", os.path.join(t, "run", "pid"),
              stdout=subprocess.DEVNULL, stderr=err)
    return p


def stderr_has(t, text):
    with open(os.path.join(t, "stderr")) as f:
        return text in f.read()


def rotate(t):
    """The contrib logrotate snippet, pointed at this run's files."""
    snippet = open(os.path.join(ROOT, "contrib", "imapwatch.logrotate")).read()
    snippet = snippet.replace("/var/log/imapwatch/", t + "/")
    snippet = snippet.replace("/run/imapwatch/imapwatch.pid",
                              os.path.join(t, "run", "pid"))
    snippet = snippet.replace("/run/systemd/system", t + "/no-systemd")
    snippet = snippet.replace("create 0640 imapwatch adm",
                              "create 0640 nobody root")
    snippet = snippet.replace("dateext", "nodateext")
    snippet = snippet.replace("delaycompress", "nocompress")
    # the events may still sit in imapwatch's buffer: rotate anyway
    snippet = snippet.replace("notifempty", "ifempty")
    write(os.path.join(t, "logrotate.conf"), snippet)
    r = subprocess.run(["logrotate", "-f", "-s", os.path.join(t, "lr.state"),
                        os.path.join(t, "logrotate.conf")],
                       capture_output=True, text=True)
    return r.returncode == 0 or print(r.stderr)


def live(t):
    nobody = pwd.getpwnam("nobody")
    os.makedirs(os.path.join(t, "run"))
    os.chown(os.path.join(t, "run"), nobody.pw_uid, nobody.pw_gid)
    conf, sup = os.path.join(t, "iw.conf"), os.path.join(t, "suppress")
    write(sup, "# nothing yet\n")
    write(conf, "output = %s/ev.json\nstats-interval = 1\nsuppress = %s\n"
          "write-alerted = %s/alerted.pcap\nfilter = tcp port %d\n"
          % (t, sup, t, PORT))
    srv = in_ns(PY, "-c", SERVER, str(PORT), stdout=subprocess.PIPE)
    ok(srv.stdout.readline().strip() == b"ready", "test IMAP server listens")
    dump = in_ns("tcpdump", "-i", "lo", "-U", "-w",
                 os.path.join(t, "wire.pcap"), "tcp", "port", str(PORT),
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p = start_imapwatch(t, conf)
    pidf = os.path.join(t, "run", "pid")
    ok(wait_for(lambda: os.path.exists(pidf) and
                open(pidf).read() == "%d\n" % p.pid),
       "--pidfile written with the process id")
    pid = int(open(pidf).read())
    ok(wait_for(lambda: proc_status(pid)["Uid"][0] == str(nobody.pw_uid)),
       "privileges dropped after the capture opened")
    check_status(pid, nobody)
    r = subprocess.run([IW, "-r", os.path.join(ROOT, "pcaps",
                        "dovecot-cleartext-login.pcap"), "--pidfile", pidf,
                        "-o", "/dev/null"], capture_output=True, text=True)
    ok(r.returncode == 1 and "locked by another imapwatch (pid %d)" % pid
       in r.stderr, "a second imapwatch with the same --pidfile refuses: %s"
       % r.stderr.strip())
    time.sleep(2.2)				# idle stats
    time.sleep(1.0)				# tcpdump and capture ready
    ok(session("alice"), "session 1 (alice)")
    time.sleep(0.5)
    ok(rotate(t), "contrib logrotate snippet rotates and signals (HUP)")
    ok(wait_for(lambda: stderr_has(t, "reloaded")),
       "HUP: 'reloaded' reported")
    write(sup, "cleartext_login user=BOB\n")
    write(conf, open(conf).read() + "alert-once-per-server\n")
    os.kill(pid, signal.SIGHUP)
    ok(wait_for(lambda: open(os.path.join(t, "stderr")).read()
                .count("reloaded") == 2), "HUP #2: config and suppressions "
       "reloaded as nobody")
    ok(session("bob"), "session 2 (bob)")
    write(sup, "no_such_finding\n")
    os.kill(pid, signal.SIGHUP)
    ok(wait_for(lambda: stderr_has(t, "reload failed")),
       "HUP with a broken suppression file: one line, settings kept")
    ok(session("carol"), "session 3 (carol)")
    write(sup, "cleartext_login user=bob\n")
    ok(session("bob"), "session 4 (bob again)")
    time.sleep(1.5)
    os.kill(pid, signal.SIGTERM)
    rc = p.wait(timeout=20)
    ok(rc == 0, "SIGTERM: exit status 0 (%d)" % rc)
    ok(not os.path.exists(pidf), "--pidfile removed at exit")
    dump.send_signal(signal.SIGINT)
    dump.wait(timeout=10)
    srv.kill()
    err = open(os.path.join(t, "stderr")).read()
    ok(iwtest.sanitizer_report(err) is None,
       "no sanitizer report on the live run's stderr")
    lines = [l for l in err.splitlines() if "reload failed" in l]
    ok(len(lines) == 1 and "suppress:1: 'no_such_finding'" in lines[0],
       "the failed reload names file, line and word: %s"
       % (lines[0] if lines else "-"))
    return events(os.path.join(t, "ev.json.1")) + \
        events(os.path.join(t, "ev.json"))


def live_test(t):
    evs = live(t)
    first = events(os.path.join(t, "ev.json.1"))
    ok(any(e["event_type"] == "alert" and e["imap"].get("username") ==
           "alice" for e in first) and
       not any(e.get("imap", {}).get("username") == "bob" for e in first),
       "logrotate: alice's events in the rotated file, later ones in the "
       "new file")
    check_stats(evs)
    alerts = check_events(evs, t)
    check_alerted_pcap(t, alerts)


def pidfile_root_dir(t):
    d = os.path.join(t, "rootdir")
    os.makedirs(d)
    os.chmod(d, 0o755)
    pidf = os.path.join(d, "pid")
    pcap = os.path.join(ROOT, "pcaps", "dovecot-cleartext-login.pcap")
    r = iwtest.run(["-r", pcap, "-Z", "nobody", "--pidfile", pidf,
                    "-o", os.path.join(t, "x.json")])
    ok(r.returncode == 0 and os.path.exists(pidf) and
       os.path.getsize(pidf) == 0 and r.stderr == "",
       "--pidfile in a root-owned directory after -Z: emptied, not left "
       "stale (rc %d, %r)" % (r.returncode, r.stderr))
    st = os.stat(pidf)
    ok(st.st_uid == 0 and (st.st_mode & 0o777) == 0o640,
       "--pidfile stays root's, 0640 (every file imapwatch creates): the "
       "dropped user cannot rewrite it")
    os.unlink(pidf)
    r = iwtest.run(["-r", pcap, "--pidfile", pidf, "-o", "/dev/null"])
    ok(r.returncode == 0 and not os.path.exists(pidf),
       "--pidfile without -Z: removed at exit")
    r = iwtest.run(["-r", "/nonexistent.pcap", "--pidfile", pidf], rc=1)
    ok(r.returncode == 1 and not os.path.exists(pidf),
       "a run that fails at start leaves no pid file")


def snaplen(t):
    """-s 96 and the default side by side on the same sessions; tcpdump
    -s 0 records the frames: those longer than 96 bytes that carry data
    are the ones -s cuts, and what is past byte 96 becomes gaps."""
    srv = in_ns(PY, "-c", SERVER, str(SNAP_PORT), stdout=subprocess.PIPE)
    ok(srv.stdout.readline().strip() == b"ready", "-s: test server listens")
    wire = os.path.join(t, "snap-wire.pcap")
    dump = in_ns("tcpdump", "-i", "lo", "-s", "0", "-U", "-w", wire, "tcp",
                 "port", str(SNAP_PORT), stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
    runs = {}
    for name, opts in (("cut", ["-s", "96"]), ("whole", [])):
        out = os.path.join(t, "snap-%s.json" % name)
        err = open(os.path.join(t, "snap-%s.err" % name), "w")
        runs[name] = (in_ns(IW, "-i", "lo", *opts, "--flows", "-o", out,
                            "tcp", "port", str(SNAP_PORT),
                            stdout=subprocess.DEVNULL, stderr=err), out, err)
    time.sleep(2.0)				# the captures are open
    ok(session("erin", SNAP_PORT) and session("frank", SNAP_PORT),
       "-s: two sessions (imaplib)")
    time.sleep(1.0)
    for name, (p, out, err) in runs.items():
        p.send_signal(signal.SIGTERM)
        ok(p.wait(timeout=20) == 0, "-s: imapwatch (%s) ends with status 0"
           % name)
        err.close()
        iwtest.check_stderr(open(err.name).read(), "imapwatch -i (%s)"
                            % name)
    dump.send_signal(signal.SIGINT)
    dump.wait(timeout=10)
    srv.kill()
    rc, frames = tshark_fields(wire, "frame.len", "tcp.len")
    cut = [int(fl) - 96 for fl, tl in frames if int(fl) > 96 and int(tl)]
    ok(rc == 0 and len(frames) > 20 and cut,
       "-s: tcpdump saw %d frames, %d of them data frames past 96 bytes"
       % (len(frames), len(cut)))
    for name, (p, out, err) in runs.items():
        st = [e for e in events(out) if e["event_type"] == "stats"][-1]
        st = st["stats"]
        want = (len(cut), sum(cut)) if name == "cut" else (0, 0)
        got = (st["capture"]["bad_packets"]["truncated_payload"],
               st["tcp"]["gap_bytes"])
        ok(got == want, "-s: %s: truncated data frames and bytes lost to "
           "gaps %s, as tcpdump's record says (%s)"
           % ("-s 96" if name == "cut" else "default snaplen", want, got))
        ok(PASSWORD not in open(out).read(), "-s: %s: no password" % name)


def main():
    if os.geteuid() != 0:
        iwtest.skip("the sensor test needs root", "namespaces, -Z, tcpdump")
        return 0
    # make test-deps installs these: as root, their absence is a failure
    for tool in ("ip", "tcpdump", "tshark", "logrotate"):
        ok(shutil.which(tool), "%s is installed" % tool)
    if iwtest.exit_status():
        return 1
    t = tempfile.mkdtemp(prefix="iw-sensor.")
    os.chmod(t, 0o755)
    try:
        pidfile_root_dir(t)
        if ok(setup_ns(), "network namespace %s" % NS):
            live_test(t)
            snaplen(t)
    finally:
        cleanup_ns()
        if os.environ.get("IW_KEEP"):
            print("# kept " + t)
        else:
            shutil.rmtree(t, ignore_errors=True)
    return iwtest.exit_status()


if __name__ == "__main__":
    sys.exit(main())
