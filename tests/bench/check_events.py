#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The benchmark's event check: imapwatch's stats and alerts count the
sessions gen_capture says it wrote (its summary line).

    check_events.py EVENTS.ndjson CAPTURE.summary   -> "PASS ..." or "FAIL ..."
"""
import json, sys
ev, summ = sys.argv[1], sys.argv[2]
want = dict(w.split("=", 1) for w in open(summ).read().split()[1:]
            if "=" in w)
stats = None
alerts = 0
bad = 0
for line in open(ev, encoding="utf-8"):
    try:
        e = json.loads(line)
    except ValueError:
        bad += 1
        continue
    t = e.get("event_type")
    if t == "stats":
        stats = e.get("stats", {})
    elif t == "alert" and e.get("alert", {}).get("signature") == \
            "cleartext_login":
        alerts += 1
if stats is None:
    print("FAIL no stats event")
    sys.exit()
ses = stats.get("sessions", {})
rows = [
    ("imap_cleartext", ses.get("imap_cleartext"), want["imap_cleartext"]),
    ("imap_starttls", ses.get("imap_starttls"), want["imap_starttls"]),
    ("imap_implicit_tls", ses.get("imap_implicit_tls"),
     want["imap_implicit_tls"]),
    ("cleartext_login alerts", alerts, want["cleartext_login"]),
    ("stats cleartext_login", ses.get("findings", {}).get("cleartext_login"),
     want["cleartext_login"]),
    ("packets", stats.get("capture", {}).get("packets"), want["packets"]),
    ("flows", stats.get("tcp", {}).get("flows"), want["sessions"]),
    ("gaps", stats.get("tcp", {}).get("gaps"), "0"),
]
wrong = [f"{n} {got} (wrote {w})" for n, got, w in rows if str(got) != w]
if bad:
    wrong.append(f"{bad} lines not JSON")
detail = ", ".join(f"{n}={got}" for n, got, w in rows[:4])
print(("FAIL " + "; ".join(wrong)) if wrong else ("PASS " + detail))
