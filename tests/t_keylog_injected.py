#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""What the server did with commands injected before STARTTLS's handshake,
seen with the client's key log.

pcaps/keylog/keylog-scripted-injected-{answered,discarded} (made by
tests/captures/injected_keylog.py): the client sends "a STARTTLS",
"b CAPABILITY", "c NOOP" in one segment; one scripted server runs b and c
inside TLS unasked, the other discards them.  The truth is the client's
own log (the tagged lines it received inside TLS before it spoke there),
checked against the server's log (the injected lines it ran inside TLS).

  - with --keylog: imap.inside_tls.injected_answers and the
    starttls_command_injection alert's injected_answers are those
    answers (tag, the command the client sent with that tag, status);
    empty for the server that discarded them;
  - without --keylog, or with keys that are not this session's: the alert
    as before, without injected_answers;
  - one worker and four write the same events;
  - no byte of the key log's secrets in anything imapwatch writes.
"""

import ast
import json
import os
import re
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import iwtest  # noqa: E402
from iwtest import ok  # noqa: E402
import t_keylog  # noqa: E402  (the secret grep)

KEYDIR = os.path.join(ROOT, "pcaps", "keylog")
NAMES = ("keylog-scripted-injected-answered",
         "keylog-scripted-injected-discarded")
INJ = "starttls_command_injection"


def sections(path):
    text = open(path).read()
    client, server = text.split("# server\n", 1)
    return client, server


def truth(name):
    """[(tag, command, status)] the client received inside TLS for the
    commands it injected; and the tags the server says it ran in TLS."""
    client, server = sections(os.path.join(KEYDIR, name + ".clients.log"))
    m = re.search(r"^C: (b'.*') \(one segment\)$", client, re.M)
    sent = ast.literal_eval(m.group(1)).decode().split("\r\n")
    injected = {}
    for line in sent[1:]:
        if line:
            tag, cmd = line.split()[:2]
            injected[tag] = cmd.upper()
    answers = []
    for m in re.finditer(r"^S \(TLS, before the client spoke\): (b'.*')$",
                         client, re.M):
        words = ast.literal_eval(m.group(1)).decode().split()
        if words[0] in injected:
            answers.append((words[0], injected[words[0]], words[1]))
    ran = [ast.literal_eval(m.group(1)).decode().split()[0] for m in
           re.finditer(r"^C \(TLS\): (b'.*')$", server, re.M)]
    ran = [t for t in ran if t in injected]
    return injected, answers, ran


def summary(res):
    alerts = [e for e in res.events if e.get("event_type") == "alert" and
              e["alert"]["signature"] == INJ]
    imap = [e for e in res.events if e.get("event_type") == "imap"]
    return alerts, imap


def as_tuples(lst):
    return [(a["tag"], a["command"], a["status"]) for a in lst]


def check(name, tmp):
    pcap = os.path.join(KEYDIR, name + ".pcap")
    keylog = t_keylog.private_copy(os.path.join(KEYDIR, name + ".keylog"),
                                   tmp)
    injected, answers, ran = truth(name)
    ok(injected and [a[0] for a in answers] == ran,
       "%s: the client's log (answers inside TLS %r) agrees with the "
       "server's (ran %r)" % (name, [a[0] for a in answers], ran))

    r = iwtest.run(["-r", pcap, "--keylog", keylog])
    alerts, imap = summary(r)
    if not ok(len(alerts) == 1 and len(imap) == 1,
              "%s: one %s alert, one imap event" % (name, INJ)):
        return
    inner = imap[0]["imap"].get("inside_tls", {})
    ok(as_tuples(inner.get("injected_answers", [None])) == answers,
       "%s: imap.inside_tls.injected_answers is the client's %r" % (
           name, answers), repr(inner.get("injected_answers")))
    ev = alerts[0]["imap"]
    ok(as_tuples(ev.get("injected_answers", [None])) == answers and
       ev["injected_commands"] == list(injected.values()),
       "%s: the alert says which injected commands were answered" % name,
       repr(ev))
    t_keylog.check_secrets(name, r.stdout + r.err, keylog, [])

    four = iwtest.run(["-r", pcap, "--keylog", keylog, "--workers", "4"])
    ok(sorted(json.dumps(e, sort_keys=True) for e in four.events
              if e["event_type"] != "stats") ==
       sorted(json.dumps(e, sort_keys=True) for e in r.events
              if e["event_type"] != "stats"),
       "%s: --workers 4 writes what one worker writes" % name)

    other = [n for n in NAMES if n != name][0]
    wrong = t_keylog.private_copy(os.path.join(KEYDIR, other + ".keylog"),
                                  tmp)
    for what, extra in (("without --keylog", []),
                        ("with another session's keys", ["--keylog",
                                                         wrong])):
        alerts, imap = summary(iwtest.run(["-r", pcap] + extra))
        ok(len(alerts) == 1 and "injected_answers" not in alerts[0]["imap"]
           and "injected_answers" not in imap[0]["imap"].get(
               "inside_tls", {}) and
           imap[0]["imap"]["starttls"]["injected_commands"] ==
           list(injected.values()),
           "%s %s: the alert, nothing said of answers" % (name, what))
    return answers


def main():
    tmp = tempfile.mkdtemp(prefix="iw-injected.")
    try:
        got = [check(n, tmp) for n in NAMES]
        ok(got[0] and got[1] == [],
           "one server answered injected commands, the other none")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return iwtest.exit_status()


if __name__ == "__main__":
    sys.exit(main())
