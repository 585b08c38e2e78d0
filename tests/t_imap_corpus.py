#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""IMAP sessions of the public corpus against tshark's IMAP view.

For every connection the truth files (../shared/corpus/truth, tshark 4.0)
mark as IMAP, the session event imapwatch writes must agree on: the
greeting status, the commands (counted by name), the LOGIN usernames, the
AUTHENTICATE mechanisms, the capability list, STARTTLS requested and
answered, and the cleartext credential findings.  (Nothing differs today;
a deliberate difference would be listed here with who is right and why.)

Each capture with IMAP runs once: exit status 0, nothing but warnings on
stderr (a sanitizer report fails it), and none of the passwords tshark
finds in the capture's cleartext logins appears in the output, in clear
or base64 (ndpi/imap.pcap's LOGIN, the bruteshark logins).
"""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import iwtest  # noqa: E402
from iwtest import CORPUS, ok  # noqa: E402


def imap_connections():
    for root, _, files in os.walk(os.path.join(CORPUS, "truth")):
        for f in sorted(files):
            path = os.path.join(root, f)
            with open(path) as fp:
                truth = json.load(fp)
            for c in truth["connections"]:
                if c.get("imap_seen"):
                    yield truth["file"], c


def our_sessions(rel, cache={}):
    if rel not in cache:
        path = os.path.join(CORPUS, rel)
        r = iwtest.run(["-r", path], what=rel)
        ok(not r.bad, "%s: every line is JSON" % rel, r.bad[:1])
        iwtest.check_no_password(r.out.decode("utf-8", "replace") + r.err,
                                 iwtest.capture_passwords(path), rel)
        cache[rel] = r.events
    return cache[rel]


def five_tuple(ev):
    return "tcp %s:%d -> %s:%d" % (ev["src_ip"], ev["src_port"],
                                   ev["dest_ip"], ev["dest_port"])


def check(rel, c):
    ft = c["five_tuple"]
    events = [e for e in our_sessions(rel)
              if "src_ip" in e and five_tuple(e) == ft]
    sessions = [e for e in events if e["event_type"] == "imap"]
    if not ok(len(sessions) == 1, "%s %s: one imap session event" %
              (rel, ft), "got %d" % len(sessions)):
        return
    im = sessions[0]["imap"]
    t = c["imap"]
    alerts = {e["alert"]["signature"] for e in events
              if e["event_type"] == "alert"}
    name = "%s %s" % (rel, ft)

    if t.get("greeting"):
        ok(im.get("greeting", {}).get("status") == t["greeting"]["status"],
           "%s: greeting %s" % (name, t["greeting"]["status"]),
           "ours %s" % im.get("greeting"))

    want = collections.Counter(x["command"] for x in t["commands"])
    have = collections.Counter(im.get("commands", {}).get("by_name", {}))
    ok(want == have, "%s: commands %s" % (name, dict(want)),
       "ours %s" % dict(have))

    logins = [x["username"] for x in t["commands"] if x["command"] == "LOGIN"]
    ours = [a.get("username") for a in im.get("auth", [])
            if a["command"] == "LOGIN"]
    ok(logins == ours, "%s: LOGIN usernames %s" % (name, logins),
       "ours %s" % ours)

    mechs = [x["mechanism"] for x in t["commands"]
             if x["command"] == "AUTHENTICATE"]
    ours = [a.get("mechanism") for a in im.get("auth", [])
            if a["command"] == "AUTHENTICATE"]
    ok(mechs == ours, "%s: AUTHENTICATE mechanisms %s" % (name, mechs),
       "ours %s" % ours)

    if t["capabilities"]:
        first = t["capabilities"][0]["caps"]
        ok(im.get("capabilities") == first,
           "%s: capabilities (%d)" % (name, len(first)),
           "ours %s" % im.get("capabilities"))
        ok(im.get("starttls", {}).get("offered") ==
           t["any_capability_advertised_starttls"],
           "%s: STARTTLS offered %s" % (name,
                                        t["any_capability_advertised_starttls"]))
        ok(im.get("logindisabled") ==
           t["any_capability_advertised_logindisabled"],
           "%s: LOGINDISABLED %s" % (name,
                                     t["any_capability_advertised_logindisabled"]))

    st = t["starttls"]
    ok(im.get("starttls", {}).get("requested", False) == st["issued"],
       "%s: STARTTLS requested %s" % (name, st["issued"]))
    if st["issued"]:
        ok(im["starttls"].get("status") == st["response_status"],
           "%s: STARTTLS answered %s" % (name, st["response_status"]))
        ok(im.get("mode") == ("starttls" if st["answered_ok"] else
                              "cleartext"), "%s: mode" % name)

    summary = c["summary"]
    ok(("cleartext_login" in alerts) == summary["imap_login_in_cleartext"],
       "%s: cleartext_login %s" % (name, summary["imap_login_in_cleartext"]))
    clear_auth = bool(summary["imap_authenticate_in_cleartext"])
    ok(("cleartext_auth" in alerts) == clear_auth,
       "%s: cleartext_auth %s" % (name, clear_auth))
    for u in logins:
        ok(u not in ("", None), "%s: username present" % name)


def main():
    if not iwtest.need_corpus("IMAP sessions against tshark"):
        return 0
    n = 0
    for rel, c in imap_connections():
        check(rel, c)
        n += 1
    ok(n >= 16, "IMAP connections in the corpus checked: %d" % n)
    # the logins whose passwords the grep above must have looked for
    for rel in ("ndpi/imap.pcap", "bruteshark/IMAP - Login (Plaintext) 1.pcap",
                "bruteshark/IMAP - Authenticate Plain (Base64).pcap"):
        ok(iwtest.capture_passwords(iwtest.corpus_file(rel)),
           "%s: tshark finds its password, the output is grepped for it"
           % rel)
    return iwtest.exit_status()


if __name__ == "__main__":
    sys.exit(main())
