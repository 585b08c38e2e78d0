# SPDX-License-Identifier: ISC
"""Suricata's own JSON Schema of its EVE output, as a check of ours.

The schema is read at test time from ../shared/reference/ (never copied
into the project).  Suricata's schema says "additionalProperties": false
for everything it writes itself; a producer that adds fields of its own
validates with those relaxed and nothing else changed: every field
Suricata defines must still have Suricata's type, format and pattern.

One exception, as the issue allows: Suricata's $defs/tls_date pattern
only takes years 1000 to 2999 ("^[1-2]\\d{3}-..."), but Suricata itself
writes any certificate date in that form (rust/src/x509/time.rs), such as
RFC 5280's 9999-12-31T23:59:59 "no expiry"; a date of that form failing
only that pattern is not an error.
"""

import copy
import json
import os
import re

from jsonschema import Draft202012Validator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
NAME = "suricata-eve-schema-8.0.6.json"
TLS_DATE_ANY_YEAR = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def path():
    shared = os.environ.get("IW_SHARED") or os.path.join(ROOT, "..",
                                                         "shared")
    return os.path.join(shared, "reference", NAME)


def relax(node):
    """The schema with every additionalProperties false made true."""
    node = copy.deepcopy(node)

    def walk(n):
        if isinstance(n, dict):
            if n.get("additionalProperties") is False:
                n["additionalProperties"] = True
            for v in n.values():
                walk(v)
        elif isinstance(n, list):
            for v in n:
                walk(v)
    walk(node)
    return node


def validator():
    """A validator of Suricata's schema, relaxed; None if it is missing."""
    p = path()
    if not os.path.exists(p):
        return None
    with open(p, encoding="utf-8") as fp:
        schema = relax(json.load(fp))
    return Draft202012Validator(
        schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def exempt(err):
    """The one allowed failure: a tls_date of another year."""
    return (err.validator == "pattern" and
            list(err.relative_schema_path)[-1:] == ["pattern"] and
            err.schema.get("$comment", "").startswith(
                "Definition for TLS date") and
            isinstance(err.instance, str) and
            TLS_DATE_ANY_YEAR.match(err.instance) is not None)


def errors(v, event):
    """Every error of the event, the exempt one left out."""
    return [e for e in v.iter_errors(event) if not exempt(e)]


def describe(err):
    where = "".join("[%d]" % p if isinstance(p, int) else "." + p
                    for p in err.absolute_path).lstrip(".") or "(event)"
    msg = err.message
    if len(msg) > 160:
        msg = msg[:157] + "..."
    return "%s: %s" % (where, msg)
