#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""--format ecs against ECS's own field definitions.

The npm package @elastic/ecs, pinned to the ECS version we declare
(8.11.x, installed by `make test-deps` under build/npm), carries every ECS
field with its type, whether it is an array and, for event.kind,
event.category and event.type, the allowed values.  Every event of every
capture of pcaps/ and the shared corpus, run with --format ecs --flows
--all-tls, must use only ECS fields outside "imapwatch", each with a
value of its ECS type, lists only where ECS allows an array, categorising
fields from the allowed lists (event.type among each category's expected
types), and ecs.version equal to the package's.

Environment: IMAPWATCH, IW_SHARED, IW_ECS_NPM (the package's directory).
"""

import datetime
import glob
import ipaddress
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAPWATCH = os.environ.get("IMAPWATCH") or os.path.join(ROOT, "imapwatch")
SHARED = os.environ.get("IW_SHARED") or os.path.join(ROOT, "..", "shared")
PKG = os.environ.get("IW_ECS_NPM") or os.path.join(
    ROOT, "build", "npm", "node_modules", "@elastic", "ecs")
STRINGS = {"keyword", "constant_keyword", "wildcard", "match_only_text",
           "text"}
failed = 0


def bad(what):
    global failed
    failed += 1
    if failed <= 30:
        print("not ok - %s" % what)


def load_ecs():
    """(fields, version) from the package, through node."""
    js = ("const f=require(%r);const v=require(%r);"
          "process.stdout.write(JSON.stringify({fields:f.EcsFlat,"
          "version:v.EcsVersion}))" % (
              os.path.join(PKG, "build", "commonjs", "ecs_flat.js"),
              os.path.join(PKG, "build", "commonjs", "index.js")))
    r = subprocess.run(["node", "-e", js], stdout=subprocess.PIPE,
                       timeout=120, check=True)
    d = json.loads(r.stdout)
    return d["fields"], d["version"]


def leaves(obj, prefix=""):
    """(dotted path, value) of every field outside imapwatch."""
    for k, v in obj.items():
        path = prefix + k
        if path == "imapwatch":
            continue
        if isinstance(v, dict):
            yield from leaves(v, path + ".")
        else:
            yield path, v


def type_ok(t, v):
    if t in STRINGS:
        return isinstance(v, str)
    if t in ("long", "integer", "short", "byte", "unsigned_long"):
        return isinstance(v, int) and not isinstance(v, bool)
    if t in ("float", "scaled_float", "double", "half_float"):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "ip":
        try:
            ipaddress.ip_address(v)
            return True
        except ValueError:
            return False
    if t == "date":
        try:
            datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
            return v.endswith("Z")
        except (ValueError, AttributeError):
            return False
    return False


def allowed(spec):
    return {a["name"]: a for a in spec.get("allowed_values") or []}


def check_event(where, ev, fields, version, seen):
    if ev.get("ecs", {}).get("version") != version:
        bad("%s: ecs.version %r, the package's %s" % (
            where, ev.get("ecs", {}).get("version"), version))
    for path, v in leaves(ev):
        spec = fields.get(path)
        if spec is None:
            bad("%s: %s is not an ECS field" % (where, path))
            continue
        seen.add(path)
        is_array = "array" in (spec.get("normalize") or [])
        values = v if isinstance(v, list) else [v]
        if isinstance(v, list) and not is_array:
            bad("%s: %s is a list; ECS has no array there" % (where, path))
        for x in values:
            if not type_ok(spec["type"], x):
                bad("%s: %s = %r is not ECS type %s" % (where, path, x,
                                                        spec["type"]))
            if allowed(spec) and x not in allowed(spec):
                bad("%s: %s = %r not an allowed value" % (where, path, x))
    cats = allowed(fields["event.category"])
    for c in ev.get("event", {}).get("category", []):
        want = cats.get(c, {}).get("expected_event_types") or []
        for t in ev.get("event", {}).get("type", []):
            if want and t not in want:
                bad("%s: event.type %s not expected for category %s" % (
                    where, t, c))


def captures():
    out = sorted(glob.glob(os.path.join(ROOT, "pcaps", "*.pcap")) +
                 glob.glob(os.path.join(ROOT, "pcaps", "edge", "*.pcap")))
    man = os.path.join(SHARED, "corpus", "MANIFEST.tsv")
    if os.path.exists(man):
        with open(man) as fp:
            for line in fp.read().splitlines()[1:]:
                rel = line.split("\t")[0]
                if rel.endswith((".pcap", ".pcapng", ".cap")):
                    out.append(os.path.join(SHARED, "corpus", rel))
    return out


def main():
    if not os.access(IMAPWATCH, os.X_OK):
        print("skip - t_ecs_fields: no imapwatch at %s" % IMAPWATCH)
        return 0
    if not os.path.isdir(PKG):
        print("not ok - @elastic/ecs is not installed at %s (make "
              "test-deps installs it)" % PKG)
        return 0
    fields, version = load_ecs()
    print("%s - ECS version declared (8.11.0) is the package's (%s)" % (
        "ok" if version == "8.11.0" else "not ok", version))
    seen, n = set(), 0
    for path in captures():
        r = subprocess.run([IMAPWATCH, "--format", "ecs", "--flows",
                            "--all-tls", "-r", path],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=600)
        for i, line in enumerate(r.stdout.decode().splitlines(), 1):
            check_event("%s:%d" % (os.path.basename(path), i),
                        json.loads(line), fields, version, seen)
            n += 1
    print("%s - %d ECS events of %d captures: %d distinct ECS fields, each "
          "an ECS field of its type with allowed values (%d problems)" % (
              "ok" if failed == 0 and n > 0 else "not ok", n,
              len(captures()), len(seen), failed))
    for must in ("tls.server.x509.subject.distinguished_name",
                 "tls.server.certificate_chain", "event.kind",
                 "rule.version", "tls.client.server_name"):
        print("%s - %s is among the fields checked" % (
            "ok" if must in seen else "not ok", must))
    return 0


if __name__ == "__main__":
    sys.exit(main())
