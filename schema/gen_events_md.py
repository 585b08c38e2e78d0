#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Writes the README's event reference from the schema.

    schema/gen_events_md.py > schema/EVENTS.md      regenerate
    schema/gen_events_md.py --check schema/EVENTS.md   exit 1 if stale

One table per event type (field, type, when present, meaning), every field
of schema/events.schema.json, in the schema's order.  A field without a
description is an error: the schema is the documentation.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "events.schema.json")
EVENT_TYPES = ["alert", "imap", "tls", "flow", "anomaly", "stats"]
# Documented once, in their own section, wherever they appear.
SHARED = {"x509": "certificate"}


class Doc:
    def __init__(self, schema):
        self.schema = schema
        self.defs = schema["$defs"]
        self.errors = []

    def resolve(self, s):
        """s with its $ref followed (the sibling keywords kept on top)."""
        while isinstance(s, dict) and "$ref" in s:
            target = self.schema
            for part in s["$ref"].lstrip("#/").split("/"):
                target = target[part]
            merged = dict(target)
            merged.update({k: v for k, v in s.items() if k != "$ref"})
            s = merged
        return s

    @staticmethod
    def condition(cond, prefix):
        """("imap.mode", [values]) from an if schema, or None."""
        path = []
        while "properties" in cond and len(cond["properties"]) == 1:
            name, cond = next(iter(cond["properties"].items()))
            path.append(name)
        values = [cond["const"]] if "const" in cond else cond.get("enum")
        if not path or not values:
            return None
        return prefix + ".".join(path), values

    @staticmethod
    def when(conds):
        path, values = conds[0][0], []
        for p, v in conds:
            if p != path:
                return "sometimes"
            values += v
        if len(values) > 4:
            return "when `%s` is one of %d values (see below)" % (
                path, len(values))
        return "when `%s` is %s" % (path, " or ".join(
            "`%s`" % v for v in values))

    def fields(self, s, prefix=""):
        """(properties in order, {required name: when}) of an object
        schema, through $ref and allOf."""
        s = self.resolve(s)
        props, conds = {}, {}
        req = {k: "always" for k in s.get("required", [])}
        for sub in s.get("allOf", []):
            if "if" in sub:
                c = self.condition(sub["if"], prefix)
                for k in sub.get("then", {}).get("required", []):
                    if c:
                        conds.setdefault(k, []).append(c)
                continue
            p, r = self.fields(sub, prefix)
            props.update(p)
            req.update({k: w for k, w in r.items() if k not in req or
                        w == "always"})
        for k, c in conds.items():
            if req.get(k) != "always":
                req[k] = self.when(c)
        for k, v in s.get("properties", {}).items():
            if v is False:
                props.pop(k, None)
            elif isinstance(props.get(k), dict):
                props[k] = dict(self.resolve(props[k]), **v)
            else:
                props[k] = v
        return props, req

    def describe(self, s, path):
        s = self.resolve(s)
        d = s.get("description")
        if not d:
            self.errors.append("%s: no description" % path)
            d = ""
        notes = []
        if "const" in s:
            notes.append("Always `%s`." % json.dumps(s["const"]).strip('"'))
        elif "enum" in s and len(s["enum"]) > 12:
            notes.append("One of the %d values the schema lists." %
                         len(s["enum"]))
        elif "enum" in s:
            notes.append("One of %s." % ", ".join(
                "`%s`" % json.dumps(v).strip('"') for v in s["enum"]))
        if s.get("anyOf") and all("format" in a for a in s["anyOf"]):
            notes.append("Format: %s." % " or ".join(
                a["format"] for a in s["anyOf"]))
        return " ".join([d] + notes).replace("|", "\\|")

    @staticmethod
    def type_of(s, resolved):
        t = resolved.get("type")
        if t is None and "const" in resolved:
            t = type(resolved["const"]).__name__.replace(
                "str", "string").replace("bool", "boolean").replace(
                "int", "integer")
        if isinstance(t, list):
            t = " or ".join(t)
        if t == "array":
            return "array"
        if t == "integer" and resolved.get("minimum") == 0:
            return "integer ≥ 0"
        return t or "any"

    def rows(self, s, path, when, out):
        if s is False:
            return
        r = self.resolve(s)
        name = s.get("$ref", "").split("/")[-1] if isinstance(s, dict) \
            else ""
        out.append((path, self.type_of(s, r), when, self.describe(s, path)))
        if name in SHARED:
            out[-1] = out[-1][:3] + (out[-1][3] + " See *%s objects*." %
                                     SHARED[name].capitalize(),)
            return
        self.children(r, path, out)

    def children(self, r, path, out):
        if r.get("type") == "array" or "items" in r:
            item = r.get("items", {})
            ir = self.resolve(item)
            name = item.get("$ref", "").split("/")[-1]
            if name in SHARED:
                return
            if ir.get("type") == "object" or "properties" in ir:
                self.object_rows(ir, path + "[]", out)
            return
        if r.get("type") == "object" or "properties" in r or "allOf" in r:
            self.object_rows(r, path, out)

    def object_rows(self, r, path, out):
        props, req = self.fields(r, path + "." if path else "")
        for k, v in props.items():
            self.rows(v, path + "." + k if path else k, req.get(k, ""),
                      out)
        extra = r.get("additionalProperties")
        if isinstance(extra, dict):
            er = self.resolve(extra)
            out.append((path + ".*", self.type_of(extra, er), "",
                        "Any number of names: " + self.describe(
                            r, path).split(". ")[0].rstrip(".") + "."))


def table(rows):
    lines = ["| field | type | present | meaning |", "|---|---|---|---|"]
    for path, t, when, meaning in rows:
        lines.append("| `%s` | %s | %s | %s |" % (path, t, when, meaning))
    return "\n".join(lines)


def suricata_section(x):
    """Suricata's EVE: the reference, what 0.2 changed, where we differ,
    and our anomaly kinds as Suricata's events."""
    if not x:
        return []
    parts = ["## Suricata's EVE", "",
             "Every field that Suricata's EVE also has is written as "
             "Suricata writes it.  The reference: " + x["reference"], "",
             "### Changes in 0.2", ""]
    parts += ["- " + c for c in x["changes"]]
    parts += ["", "### Where we differ from Suricata", ""]
    parts += ["- " + d for d in x["divergences"]]
    parts += ["", "### Anomaly kinds and Suricata's events", "",
              "`anomaly.kind` is ours; `anomaly.type` and `anomaly.event` "
              "are Suricata's nearest (src/decode-events.c, "
              "src/app-layer-ssl.c), or our kind where Suricata has no "
              "such event; applayer ones have `layer` `proto_parser` and "
              "`app_proto` the dissector.", "",
              "| layer | kind | type | event |", "|---|---|---|---|"]
    for m in x["anomaly_map"]:
        parts.append("| %s | `%s` | `%s` | %s |" % (
            m["layer"], m["kind"], m["type"],
            "`%s`" % m["event"] if m["event"] else "(our kind)"))
    parts.append("")
    return parts


def render(schema):
    doc = Doc(schema)
    parts = ["# imapwatch events",
             "",
             "<!-- Generated by schema/gen_events_md.py from "
             "schema/events.schema.json: do not edit; tests/t_schema.py "
             "checks it is current. -->",
             "",
             schema["description"],
             "",
             "One JSON object a line.  *present*: `always` when the field is "
             "in every event of its type (or every object that holds it), "
             "or the condition; otherwise when the description says.  "
             "Times are packet "
             "times.  With `--format ecs` the same events are written in "
             "the Elastic Common Schema: see [ECS.md](ECS.md).",
             ""]
    parts += suricata_section(schema.get("x-eve", {}))
    for et in EVENT_TYPES:
        ev = doc.defs[et + "_event"]
        rows = []
        doc.object_rows(doc.resolve(ev), "", rows)
        parts += ["## `%s`" % et, "", doc.describe(ev, et), "",
                  table(rows), ""]
    for name, title in SHARED.items():
        rows = []
        doc.object_rows(doc.resolve(doc.defs[name]), "", rows)
        parts += ["## %s objects" % title.capitalize(), "",
                  doc.describe(doc.defs[name], name), "", table(rows), ""]
    fnd = doc.defs["finding_id"]["enum"]
    parts += ["## Finding ids", "",
              "`alert.signature`, with `alert.signature_id`, "
              "`alert.category`, the severities it may have and the "
              "evidence beside it (the fields always there):", "",
              "| signature | signature_id | category | severity | evidence |",
              "|---|---|---|---|---|"]
    for rule in doc.defs["findings"]["allOf"]:
        sig = rule["if"]["properties"]["alert"]["properties"]["signature"][
            "const"]
        then = rule["then"]
        a = then["properties"]["alert"]["properties"]
        layer = then["required"][0]
        ev = ", ".join("`%s.%s`" % (layer, f) for f in
                       then["properties"][layer]["required"])
        parts.append("| `%s` | %d | %s | %s | %s |" % (
            sig, a["signature_id"]["const"], a["category"]["const"],
            ", ".join(str(x) for x in a["severity"]["enum"]), ev))
        fnd = [f for f in fnd if f != sig]
    if fnd:
        doc.errors.append("findings without a rule: %s" % ", ".join(fnd))
    parts.append("")
    return "\n".join(parts), doc.errors


def main(argv):
    with open(SCHEMA, encoding="utf-8") as fp:
        schema = json.load(fp)
    text, errors = render(schema)
    for e in errors:
        print("gen_events_md: %s" % e, file=sys.stderr)
    if errors:
        return 1
    if len(argv) == 3 and argv[1] == "--check":
        with open(argv[2], encoding="utf-8") as fp:
            if fp.read() != text:
                print("gen_events_md: %s is not what the schema gives; "
                      "run schema/gen_events_md.py > %s" % (argv[2],
                                                           argv[2]),
                      file=sys.stderr)
                return 1
        return 0
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
