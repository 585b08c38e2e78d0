#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Golden test: imapwatch on the project's own captures of real software.

For every pcaps/NAME.expect.json (made by tests/captures/make-captures.sh,
each value checked there against an independent source: the client's own
log, dovecot's log, tshark, openssl x509), run

    $IMAPWATCH -r pcaps/NAME.pcap [options the file lists]

and print one line per assertion:

    ok - NAME: [client port] field == value
    not ok - NAME: [client port] field == value (saw ...)

plus, per capture: every line is valid JSON, no password appears (in clear
or base64), each expected alert present (once per session), each listed
alert absent, no anomaly event where none is expected.  Exit status 0
unless this script itself breaks; tests/run.sh counts the "not ok" lines.

Environment: IMAPWATCH (the binary; default ./imapwatch), ONLY_PCAP (run
only captures whose name contains it), VERBOSE (print imapwatch's stderr).
"""

import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import iwtest  # noqa: E402
from iwtest import IMAPWATCH, password_forms  # noqa: E402

MISSING = object()


def get(obj, path):
    """obj at "imap.auth[0].username"; MISSING when any step is absent."""
    cur = obj
    for part in path.split("."):
        name, _, rest = part.partition("[")
        if name:
            if not isinstance(cur, dict) or name not in cur:
                return MISSING
            cur = cur[name]
        while rest:
            idx, _, rest = rest.partition("]")
            rest = rest.lstrip("[")
            if not isinstance(cur, list) or int(idx) >= len(cur):
                return MISSING
            cur = cur[int(idx)]
    return cur


def show(v):
    if v is MISSING:
        return "absent"
    return json.dumps(v)


def check_value(want, seen):
    """(ok, description of the expectation)."""
    if want is None:
        return seen is MISSING or seen is None, "absent"
    if isinstance(want, dict) and set(want) <= {"includes", "excludes"}:
        have = set(str(x).upper() for x in seen) \
            if isinstance(seen, list) else None
        desc = []
        ok = have is not None
        for x in want.get("includes", []):
            desc.append("has " + x)
            ok = ok and x.upper() in have
        for x in want.get("excludes", []):
            desc.append("lacks " + x)
            ok = ok and x.upper() not in have
        return ok, ", ".join(desc)
    return seen == want, "== " + json.dumps(want)


def main():
    only = os.environ.get("ONLY_PCAP", "")
    files = sorted(glob.glob(os.path.join(ROOT, "pcaps", "*.expect.json")))
    if not iwtest.ok(files, "pcaps/*.expect.json are there") or \
            not iwtest.ok(os.access(IMAPWATCH, os.X_OK),
                          "%s is built" % IMAPWATCH):
        return 1
    for path in files:
        exp = json.load(open(path))
        name = os.path.basename(path)[:-len(".expect.json")]
        if only and only not in name:
            continue
        run_one(name, exp)
    return 0


def run_one(name, exp):
    pcap = os.path.join("pcaps", exp["capture"])
    argv = [IMAPWATCH, "-r", pcap] + exp.get("options", [])
    try:
        r = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        print("not ok - %s: imapwatch did not finish in 120 s" % name)
        return
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    if os.environ.get("VERBOSE") and err:
        sys.stdout.write("# %s stderr: %s\n" % (name, err.strip()[:500]))
    if r.returncode != 0:
        print("not ok - %s: imapwatch exited %d: %s"
              % (name, r.returncode, err.strip()[:200]))
    iwtest.check_stderr(err, name)

    events, bad = [], 0
    for ln in r.stdout.split(b"\n"):
        if not ln.strip():
            continue
        try:
            events.append(json.loads(ln.decode("utf-8")))
        except (ValueError, UnicodeDecodeError):
            bad += 1
    if bad == 0 and events:
        print("ok - %s: every line is valid JSON (%d events)"
              % (name, len(events)))
    else:
        print("not ok - %s: every line is valid JSON (%d invalid, %d valid)"
              % (name, bad, len(events)))

    leaked = []
    for pw in exp.get("passwords", []):
        for form in password_forms(pw):
            if form in out or form in err:
                leaked.append(form)
    if leaked:
        print("not ok - %s: no password appears (clear or base64): found %s"
              % (name, ", ".join(sorted(set(leaked)))))
    else:
        print("ok - %s: no password appears (clear or base64)" % name)

    alerts = [e for e in events if e.get("event_type") == "alert"]

    for s in exp.get("sessions", []):
        et = s.get("event_type", "imap")
        cands = [e for e in events if e.get("event_type") == et
                 and (s.get("client_port") is None
                      or e.get("src_port") == s["client_port"])
                 and (s.get("server_port") is None
                      or e.get("dest_port") == s["server_port"])
                 and (s.get("client_ip") is None
                      or e.get("src_ip") == s["client_ip"])]
        tag = "[%s]" % s.get("client_port", "-")
        if len(cands) != 1:
            seen = ["%s:%s->%s" % (e.get("event_type"), e.get("src_port"),
                                   e.get("dest_port"))
                    for e in events if e.get("event_type") in ("imap", "tls")]
            why = "no %s event for %s:%s -> %s:%s (saw %s)" % (
                et, s.get("client_ip"), s.get("client_port"),
                s.get("server_ip"), s.get("server_port"),
                ", ".join(seen) or "none") if not cands else \
                "%d %s events for it, one expected" % (len(cands), et)
            for field, want in s["expect"].items():
                _, desc = check_value(want, MISSING)
                print("not ok - %s: %s %s %s (%s)"
                      % (name, tag, field, desc, why))
            continue
        ev = cands[0]
        for field, want in s["expect"].items():
            seen = get(ev, field)
            ok, desc = check_value(want, seen)
            line = "%s: %s %s %s" % (name, tag, field, desc)
            if ok:
                print("ok - " + line)
            else:
                print("not ok - %s (saw %s)" % (line, show(seen)))
        # the session event lists the findings raised on it
        mine = sorted(set(a["signature"] for a in exp.get("alerts_present", [])
                          if a.get("client_port") == s.get("client_port")))
        if mine:
            app = et if et in ev else "imap"
            listed = get(ev, app + ".findings")
            ids = set()
            if isinstance(listed, list):
                for f in listed:
                    ids.add(f if isinstance(f, str) else
                            (f.get("id") or f.get("signature"))
                            if isinstance(f, dict) else None)
            missing = [m for m in mine if m not in ids]
            line = "%s: %s %s.findings lists %s" % (name, tag, app,
                                                    ", ".join(mine))
            if missing:
                print("not ok - %s (saw %s)" % (line, show(listed)))
            else:
                print("ok - " + line)

    for a in exp.get("alerts_present", []):
        sig = a["signature"]
        port = a.get("client_port")
        got = [e for e in alerts if get(e, "alert.signature") == sig
               and (port is None or e.get("src_port") == port)]
        where = " [%s]" % port if port is not None else ""
        line = "%s: alert %s%s" % (name, sig, where)
        if not got:
            others = sorted(set("%s[%s]" % (get(e, "alert.signature"),
                                            e.get("src_port"))
                                for e in alerts))
            print("not ok - %s present (alerts seen: %s)"
                  % (line, ", ".join(others) or "none"))
            continue
        problems = []
        if port is not None and len(got) > 1:
            problems.append("raised %d times in the session" % len(got))
        if "severity" in a and get(got[0], "alert.severity") != a["severity"]:
            problems.append("severity %s, expected %s"
                            % (show(get(got[0], "alert.severity")),
                               a["severity"]))
        for field, want in a.get("evidence", {}).items():
            seen = get(got[0], field)
            ok, desc = check_value(want, seen)
            if not ok:
                problems.append("evidence %s %s, saw %s"
                                % (field, desc, show(seen)))
        if problems:
            print("not ok - %s present (%s)" % (line, "; ".join(problems)))
        else:
            extra = []
            if "severity" in a:
                extra.append("severity %d" % a["severity"])
            extra += ["%s %s" % (k, json.dumps(v))
                      for k, v in a.get("evidence", {}).items()]
            print("ok - %s present%s" % (line, (" (" + ", ".join(extra) + ")")
                                         if extra else ""))

    for sig in exp.get("alerts_absent", []):
        got = [e for e in alerts if get(e, "alert.signature") == sig]
        if got:
            print("not ok - %s: no alert %s (raised for client port %s)"
                  % (name, sig, ", ".join(str(e.get("src_port"))
                                          for e in got)))
        else:
            print("ok - %s: no alert %s" % (name, sig))

    if exp.get("anomalies") == 0:
        an = [e for e in events if e.get("event_type") == "anomaly"]
        if an:
            print("not ok - %s: no anomaly event (saw %d: %s)" % (
                name, len(an), ", ".join(sorted(set(
                    "%s/%s" % (get(e, "anomaly.type"), get(e, "anomaly.event"))
                    for e in an)))))
        else:
            print("ok - %s: no anomaly event" % name)


if __name__ == "__main__":
    sys.exit(main())
