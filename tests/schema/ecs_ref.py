# SPDX-License-Identifier: ISC
"""Reference translation of an EVE-shaped imapwatch event into ECS, written
from schema/ECS.md (whose mapping table it reads), independently of
analyzer/ecs.c.  tests/t_schema.py requires imapwatch --format ecs to give
exactly what this gives for the --format eve events of the same capture.
"""

import calendar
import copy
import datetime
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ECS_MD = os.path.join(ROOT, "schema", "ECS.md")
ECS_VERSION = "8.11.0"
CONVERSIONS = {"as is", "timestamp", "lowercase", "dataset", "string", "hex",
               "utc", "first", "username", "tls_version"}


def read_mapping(path=ECS_MD):
    """[(eve path, ecs path, conversion)] from the table between the
    mapping markers."""
    with open(path, encoding="utf-8") as fp:
        text = fp.read()
    m = re.search(r"<!-- mapping:begin[^>]*-->(.*?)<!-- mapping:end -->",
                  text, re.S)
    if not m:
        raise ValueError("%s: no mapping table" % path)
    rows = []
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        eve, ecs, conv = cells[0].strip("`"), cells[1].strip("`"), cells[2]
        if conv not in CONVERSIONS:
            raise ValueError("%s: unknown conversion %r" % (path, conv))
        rows.append((eve, ecs, conv))
    return rows


def _get(obj, path):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _set(obj, path, value):
    parts = path.split(".")
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value


def _delete(obj, path):
    """Deletes path and the objects it leaves empty."""
    parts = path.split(".")
    if len(parts) == 1:
        obj.pop(parts[0], None)
        return
    child = obj.get(parts[0])
    if not isinstance(child, dict):
        return
    _delete(child, ".".join(parts[1:]))
    if not child:
        del obj[parts[0]]


def _timestamp(s):
    assert s.endswith("+0000"), s
    return s[:-5] + "Z"


def _micros(s):
    t = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z")
    return calendar.timegm(t.utctimetuple()) * 1000000 + t.microsecond


def _convert(conv, value, usernames):
    """(ECS path override or None, value), or None: no ECS form."""
    if conv == "as is":
        return None, value
    if conv == "timestamp":
        return None, _timestamp(value)
    if conv == "lowercase":
        return None, value.lower()
    if conv == "dataset":
        return None, "imapwatch." + value
    if conv == "string":
        return None, str(value)
    if conv == "hex":
        return None, value.replace(":", "").upper()
    if conv == "utc":
        return None, value + "Z"
    if conv == "first":
        return None, value[0]
    if conv == "username":
        return ("user.hash" if usernames == "hash" else None), value
    raise AssertionError(conv)


# Suricata's version names (ECS.md's tls_version conversion)
TLS_VERSIONS = {"SSLv2": ("2.0", "ssl"), "SSLv3": ("3.0", "ssl"),
                "TLSv1": ("1.0", "tls"), "TLS 1.1": ("1.1", "tls"),
                "TLS 1.2": ("1.2", "tls"), "TLS 1.3": ("1.3", "tls")}


def _tls_version(ecs, value):
    if value not in TLS_VERSIONS:
        return False
    _set(ecs, "tls.version", TLS_VERSIONS[value][0])
    _set(ecs, "tls.version_protocol", TLS_VERSIONS[value][1])
    return True


def _event_class(ecs, etype, alert_category):
    kind, cat, typ = "event", ["network"], ["info"]
    if etype == "alert":
        kind = "alert"
        cat = ["network", "intrusion_detection"]
        if alert_category == "credentials":
            cat.append("authentication")
    elif etype in ("imap", "tls"):
        typ = ["connection", "protocol", "end"]
    elif etype == "flow":
        typ = ["connection", "end"]
    elif etype == "anomaly":
        typ = ["protocol"]
    elif etype == "stats":
        kind = "metric"
    _set(ecs, "event.kind", kind)
    _set(ecs, "event.category", cat)
    _set(ecs, "event.type", typ)
    _set(ecs, "event.module", "imapwatch")


def _add_unique(ecs, path, value):
    if not isinstance(value, str):
        return
    lst = _get(ecs, path)
    if lst is None:
        lst = []
        _set(ecs, path, lst)
    if value not in lst:
        lst.append(value)


def _related_user(eve, ecs, usernames):
    _add_unique(ecs, "related.user", _get(ecs, "user.name"))
    _add_unique(ecs, "related.user", _get(ecs, "user.hash"))
    _add_unique(ecs, "related.user", _get(eve, "imap.authzid"))
    auth = _get(eve, "imap.auth")
    if not isinstance(auth, list):
        return
    names = []
    for a in auth:
        _add_unique(ecs, "related.user", a.get("username"))
        _add_unique(ecs, "related.user", a.get("authzid"))
        if "username" in a:
            names.append(a["username"])
    if names and len(set(names)) == 1:
        _set(ecs, "user.hash" if usernames == "hash" else "user.name",
             names[0])


def translate(event, mapping, usernames="plain"):
    """The ECS form of one EVE event (a dict), per ECS.md."""
    eve = copy.deepcopy(event)
    ecs = {}
    etype = eve["event_type"]
    rows = list(mapping)
    first, rest = rows[0], rows[1:]
    assert first[0] == "timestamp"
    _set(ecs, first[1], _timestamp(eve.pop("timestamp")))
    _set(ecs, "ecs.version", ECS_VERSION)
    _event_class(ecs, etype, _get(eve, "alert.category"))
    if etype == "flow":
        a, b = _micros(eve["flow"]["start"]), _micros(eve["flow"]["end"])
        if b >= a:
            _set(ecs, "event.duration", (b - a) * 1000)
    for src, dst, conv in rest:
        value = _get(eve, src)
        if value is None:
            continue
        if conv == "tls_version":
            if _tls_version(ecs, value):
                _delete(eve, src)
            continue
        if conv == "first" and (not isinstance(value, list) or not value):
            continue
        override, new = _convert(conv, value, usernames)
        _set(ecs, override or dst, new)
        _delete(eve, src)
    ip = _get(ecs, "source.ip")
    if ip is not None:
        _set(ecs, "network.type", "ipv6" if ":" in ip else "ipv4")
    for total, a, b in (("network.packets", "source.packets",
                         "destination.packets"),
                        ("network.bytes", "source.bytes",
                         "destination.bytes")):
        if _get(ecs, a) is not None and _get(ecs, b) is not None:
            _set(ecs, total, _get(ecs, a) + _get(ecs, b))
    _add_unique(ecs, "related.ip", _get(ecs, "source.ip"))
    _add_unique(ecs, "related.ip", _get(ecs, "destination.ip"))
    _related_user(eve, ecs, usernames)
    if eve:
        ecs["imapwatch"] = eve
    return ecs


def diff(want, got, path=""):
    """The first difference between two JSON values, as text, or None."""
    if isinstance(want, dict) and isinstance(got, dict):
        for k in list(want) + [k for k in got if k not in want]:
            p = path + "." + k if path else k
            if k not in got:
                return "%s missing (want %s)" % (p, _short(want[k]))
            if k not in want:
                return "%s unexpected (%s)" % (p, _short(got[k]))
            d = diff(want[k], got[k], p)
            if d:
                return d
        return None
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return "%s: %d items, want %d" % (path, len(got), len(want))
        for i, (w, g) in enumerate(zip(want, got)):
            d = diff(w, g, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if want != got or type(want) is not type(got):
        return "%s = %s, want %s" % (path, _short(got), _short(want))
    return None


def _short(v):
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."
