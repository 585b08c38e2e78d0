#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Validates every event a pass of tests/run.sh logged.

    validate_events.py DIR

DIR is the pass's $IW_EVENT_LOG: one DIR/<program>-<pid>.ndjson a process
(analyzer/event_log.c), every event it wrote whatever its sinks.  EVE
events are checked against schema/events.schema.json, --format ecs ones
(they have "@timestamp") against schema/ecs-events.schema.json; EVE
events also against Suricata's own schema (tests/schema/suricata.py),
one "suricata <type>" line per event type.  Prints one
line per event type:

    ok - schema: 1234 alert events valid
    not ok - schema: 2 of 1234 alert events invalid: <first error> (FILE:LINE)

and a last one with the totals.  Identical lines are validated once.
"""

import collections
import glob
import json
import multiprocessing
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import schemas  # noqa: E402
import suricata  # noqa: E402

_validators = None
_suricata = None


def _init():
    global _validators, _suricata
    _validators = schemas.validators()
    _suricata = suricata.validator()


def check_suricata(line):
    """("suricata <type>", error or None): an EVE event against
    Suricata's own schema, additionalProperties relaxed
    (tests/schema/suricata.py); None for ECS events."""
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    if not isinstance(ev, dict) or "@timestamp" in ev:
        return None
    kind = "suricata " + str(ev.get("event_type", "?"))
    if _suricata is None:
        return kind, "no Suricata schema at %s" % suricata.path()
    errs = suricata.errors(_suricata, ev)
    return kind, suricata.describe(errs[0]) if errs else None


def check(line):
    """(kind, error or None) for one logged line."""
    try:
        ev = json.loads(line)
    except ValueError as e:
        return "unparsable", "not JSON: %s" % e
    if not isinstance(ev, dict):
        return "unparsable", "not a JSON object"
    if "@timestamp" in ev:
        v = _validators["ecs"]
        ds = ev.get("event", {}).get("dataset", "?") \
            if isinstance(ev.get("event"), dict) else "?"
        kind = "ecs " + str(ds).replace("imapwatch.", "")
    else:
        v = _validators["eve"]
        kind = str(ev.get("event_type", "?"))
    return kind, schemas.first_error(v, ev)


def read_lines(d):
    """{line: [(file, number)]} of every logged line."""
    where = collections.OrderedDict()
    files = sorted(glob.glob(os.path.join(d, "*.ndjson")))
    for path in files:
        with open(path, "rb") as fp:
            data = fp.read()
        text = data.decode("utf-8", errors="replace")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        elif lines:
            lines[-1] += "  <no newline: half a line>"
        for n, line in enumerate(lines, 1):
            where.setdefault(line, []).append(
                (os.path.basename(path), n))
    return where, len(files)


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print("usage: validate_events.py DIR", file=sys.stderr)
        return 2
    where, nfiles = read_lines(argv[1])
    lines = list(where)
    if not lines and os.environ.get("ONLY"):
        print("skip - schema: no events were logged (ONLY=%s)"
              % os.environ["ONLY"])
        return 0
    if not lines:
        # a whole pass always writes events (imapwatch, the unit tests):
        # none means the logging broke, and nothing would be validated
        print("not ok - schema: no events were logged in %s (%d files)"
              % (argv[1], nfiles))
        return 1
    with multiprocessing.Pool(min(2, os.cpu_count() or 1),
                              initializer=_init) as pool:
        results = pool.map(check, lines, chunksize=64)
        sur = pool.map(check_suricata, lines, chunksize=64)
    # Suricata's schema as a second check of every EVE event
    lines += [line for line, r in zip(lines, sur) if r is not None]
    results += [r for r in sur if r is not None]
    total = collections.Counter()
    bad = collections.Counter()
    first = {}
    for line, (kind, err) in zip(lines, results):
        n = len(where[line])
        total[kind] += n
        if err:
            bad[kind] += n
            if kind not in first:
                f, ln = where[line][0]
                first[kind] = "%s (%s:%d)" % (err, f, ln)
    for kind in sorted(total):
        if bad[kind]:
            print("not ok - schema: %d of %d %s events invalid: %s" % (
                bad[kind], total[kind], kind, first[kind]))
        else:
            print("ok - schema: %d %s events valid" % (total[kind], kind))
    print("ok - schema: %d events from %d processes checked (%d distinct)"
          % (sum(n for k, n in total.items()
                 if not k.startswith("suricata ")), nfiles, len(where)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
