# SPDX-License-Identifier: ISC
"""Collectors for tests/t_sinks.py, all on loopback: a real rsyslogd and a
real redis-server (Debian's packages) started by the test in its own
directory, and small Python listeners on Unix sockets.  Each can be
stopped (killed) and started again mid-run."""

import json
import os
import random
import select
import signal
import socket
import subprocess
import threading
import time

RSYSLOGD = "/usr/sbin/rsyslogd"
REDIS_SERVER = "/usr/bin/redis-server"


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1."""
    for _ in range(200):
        port = random.randint(20000, 60000)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind(("127.0.0.1", port))
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def wait_for(cond, timeout, step=0.05, tick=None):
    """Polls cond() until true or timeout; tick() between polls."""
    end = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= end:
            return False
        if tick is not None:
            tick()
        time.sleep(step)


def _stop(proc, sig):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


RSYSLOG_CONF = """\
global(workDirectory="{dir}" maxMessageSize="256k")
module(load="imudp")
module(load="imtcp" MaxFrameSize="262144")
module(load="imuxsock" SysSock.Use="off")
input(type="imudp" address="127.0.0.1" port="{port}" ruleset="r"
      rcvbufSize="4m")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="r")
input(type="imuxsock" Socket="{sock}" UseSpecialParser="off"
      ParseHostname="on" IgnoreTimestamp="off" UsePIDFromSystem="off"
      Annotate="off" RateLimit.Interval="0" ruleset="r")
template(name="j" type="list" option.jsonf="on") {{
  property(outname="input" name="inputname" format="jsonf")
  property(outname="raw" name="rawmsg" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="facility" name="syslogfacility-text" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="ts" name="timereported" dateFormat="rfc3339"
           format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}}
ruleset(name="r") {{
  action(type="omfile" file="{out}" template="j")
}}
"""


class Rsyslog:
    """rsyslogd -n: UDP and TCP on 127.0.0.1:port, a Unix datagram
    socket, every message written as one JSON line (raw message and the
    fields rsyslog parsed from it) to self.out."""

    def __init__(self, directory):
        self.dir = directory
        self.port = free_port()
        self.sock = os.path.join(directory, "log.sock")
        self.out = os.path.join(directory, "rsyslog.out")
        self.conf = os.path.join(directory, "rsyslog.conf")
        self.pidfile = os.path.join(directory, "rsyslog.pid")
        self.proc = None
        with open(self.conf, "w") as f:
            f.write(RSYSLOG_CONF.format(dir=directory, port=self.port,
                                        sock=self.sock, out=self.out))

    def start(self):
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", self.conf, "-i", self.pidfile],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = wait_for(lambda: os.path.exists(self.sock) and self._tcp_up(),
                      15)
        if not ok:
            raise RuntimeError("rsyslogd did not start")

    def _tcp_up(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.5).close()
            return True
        except OSError:
            return False

    def stop(self):
        _stop(self.proc, signal.SIGTERM)
        self.proc = None

    def records(self):
        """What rsyslog wrote, one dict a message."""
        if not os.path.exists(self.out):
            return []
        out = []
        with open(self.out, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.endswith("\n"):
                    out.append(json.loads(line))
        return out


class Resp:
    """The smallest RESP client: commands and replies."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 5)
        self.f = self.s.makefile("rb")

    def send(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(parts))

    def read(self):
        line = self.f.readline()
        if not line:
            raise EOFError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        raise RuntimeError("bad reply %r" % line)

    def cmd(self, *args):
        self.send(*args)
        return self.read()

    def close(self):
        self.f.close()
        self.s.close()


class Redis:
    """redis-server on 127.0.0.1:port, no persistence."""

    def __init__(self, directory):
        self.dir = directory
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--daemonize", "no", "--logfile", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(self._ping, 15):
            raise RuntimeError("redis-server did not start")

    def _ping(self):
        try:
            c = Resp(self.port)
            ok = c.cmd("PING") == "PONG"
            c.close()
            return ok
        except (OSError, EOFError, RuntimeError):
            return False

    def stop(self):
        _stop(self.proc, signal.SIGKILL)
        self.proc = None

    def lrange(self, key):
        c = Resp(self.port)
        try:
            return [x.decode() for x in c.cmd("LRANGE", key, 0, -1)]
        finally:
            c.close()

    def llen(self, key):
        c = Resp(self.port)
        try:
            return c.cmd("LLEN", key)
        finally:
            c.close()


class Subscriber(threading.Thread):
    """SUBSCRIBE channel; the messages in self.got."""

    def __init__(self, port, channel):
        super().__init__(daemon=True)
        self.c = Resp(port)
        self.c.send("SUBSCRIBE", channel)
        self.c.read()			# the confirmation
        self.got = []

    def run(self):
        try:
            while True:
                msg = self.c.read()
                if isinstance(msg, list) and msg[0] == b"message":
                    self.got.append(msg[2].decode())
        except (OSError, EOFError, ValueError):
            pass

    def close(self):
        try:
            self.c.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.c.close()


class UnixListener(threading.Thread):
    """A Unix stream or datagram socket at path; every line (stream) or
    datagram in self.got, and the raw bytes of each stream connection in
    self.streams once it ends.  stop_listening() closes it all and removes
    the socket, as a collector that died; start_listening() again is one
    that came back.  With reading=False connections are accepted and
    never read (a collector that hangs)."""

    def __init__(self, path, dgram=False, reading=True):
        super().__init__(daemon=True)
        self.path = path
        self.dgram = dgram
        self.reading = reading
        self.got = []
        self.streams = []
        self.lock = threading.Lock()
        self.srv = None
        self.conns = {}		# socket -> (raw bytes, partial line)
        self.running = True
        self.wake_r, self.wake_w = os.pipe()
        self.start_listening()
        self.start()

    def start_listening(self):
        with self.lock:
            kind = socket.SOCK_DGRAM if self.dgram else socket.SOCK_STREAM
            s = socket.socket(socket.AF_UNIX, kind)
            if os.path.exists(self.path):
                os.unlink(self.path)
            s.bind(self.path)
            if self.dgram:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            else:
                s.listen(8)
            self.srv = s
        os.write(self.wake_w, b"x")

    def stop_listening(self):
        with self.lock:
            for c, (raw, _) in list(self.conns.items()):
                self.streams.append(bytes(raw))
                c.close()
            self.conns.clear()
            if self.srv is not None:
                self.srv.close()
                self.srv = None
            if os.path.exists(self.path):
                os.unlink(self.path)
        os.write(self.wake_w, b"x")

    def _read_conn(self, c):
        raw, part = self.conns[c]
        try:
            data = c.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.streams.append(bytes(raw))
            c.close()
            del self.conns[c]
            return
        raw += data
        part += data
        while True:
            i = part.find(b"\n")
            if i < 0:
                break
            self.got.append(part[:i].decode("utf-8", "replace"))
            del part[:i + 1]

    def _ready(self, s):
        if s == self.wake_r:
            os.read(self.wake_r, 64)
        elif s is self.srv and self.srv is not None:
            if self.dgram:
                self.got.append(self.srv.recv(1 << 20).decode(
                    "utf-8", "replace"))
            else:
                c, _ = self.srv.accept()
                self.conns[c] = (bytearray(), bytearray())
        elif s in self.conns:
            self._read_conn(s)

    def run(self):
        while self.running:
            with self.lock:
                fds = [self.wake_r]
                if self.srv is not None:
                    fds.append(self.srv)
                if self.reading:
                    fds.extend(self.conns)
            r, _, _ = select.select(fds, [], [], 0.2)
            with self.lock:
                for s in r:
                    self._ready(s)

    def drain_stalled(self):
        """reading=False: read what the peer left, now that it is gone."""
        with self.lock:
            for c in list(self.conns):
                raw = self.conns.pop(c)[0]
                c.settimeout(2)
                while True:
                    try:
                        data = c.recv(65536)
                    except OSError:
                        break
                    if not data:
                        break
                    raw += data
                c.close()
                self.streams.append(bytes(raw))

    def close(self):
        self.running = False
        self.stop_listening()
        self.join(2)
        os.close(self.wake_r)
        os.close(self.wake_w)
