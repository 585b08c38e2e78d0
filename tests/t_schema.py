#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The event schema as a contract (schema/).

  1. Both schemas are valid JSON Schema (draft 2020-12), and strict: a few
     mutated events (a typo'd field, a wrong signature_id, a bad time) are
     rejected.
  2. Every finding of analyzer/findings.c is in the schema's signature
     enum, with its signature_id, category, default severity and layer.
  3. schema/EVENTS.md is what schema/gen_events_md.py makes of the schema
     (every field documented, every documented field in the schema).
  4. Every capture in pcaps/, pcaps/edge/ and the shared corpus, run with
     --flows --all-tls (and the options its .expect.json lists): every
     event valid; run again with --format ecs: every event equal to the
     translation of the EVE one by schema/ECS.md's table
     (tests/schema/ecs_ref.py) and valid against ecs-events.schema.json.
     Captures with usernames also run with --usernames hash and omit.
     Every run exits 0 with no sanitizer report on stderr, and no output
     holds a password of the capture (those its .expect.json lists, or
     for a corpus capture those tshark finds in its cleartext logins).
  5. The example of schema/ECS.md is such a pair.

Environment: IMAPWATCH (the binary), IW_SHARED (shared/), ONLY_PCAP (only
captures whose path contains it).
"""

import collections
import concurrent.futures
import copy
import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "schema"))
sys.path.insert(0, os.path.join(ROOT, "schema"))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import ecs_ref  # noqa: E402
import gen_events_md  # noqa: E402
import iwtest  # noqa: E402
import schemas  # noqa: E402
from iwtest import CORPUS, IMAPWATCH, ok, skip  # noqa: E402

from jsonschema import Draft202012Validator  # noqa: E402

ONLY = os.environ.get("ONLY_PCAP", "")
SALT = "t_schema"


# ---- 1. the schemas ----

def check_schemas(v):
    for name, path in (("events", schemas.EVE), ("ecs-events", schemas.ECS)):
        try:
            Draft202012Validator.check_schema(schemas.load(path))
            ok(True, "schema: %s.schema.json is valid JSON Schema" % name)
        except Exception as e:  # noqa: BLE001
            ok(False, "schema: %s.schema.json is valid JSON Schema" % name,
               str(e).splitlines()[0])
    fc = Draft202012Validator.FORMAT_CHECKER
    ok("ipv4" in fc.checkers and "ipv6" in fc.checkers,
       "schema: ipv4 and ipv6 formats are checked")


# Each: what, the event type to start from, the change; all must be refused.
MUTATIONS = [
    ("an unknown field in alert", "alert",
     lambda e: e["alert"].__setitem__("sigature", "x")),
    ("a wrong signature_id", "alert",
     lambda e: e["alert"].__setitem__("signature_id",
                                      e["alert"]["signature_id"] + 1)),
    ("an unknown signature", "alert",
     lambda e: e["alert"].__setitem__("signature", "cleartext_logon")),
    ("a timestamp without microseconds", "alert",
     lambda e: e.__setitem__("timestamp", e["timestamp"][:19] + "+0000")),
    ("no community_id", "alert", lambda e: e.pop("community_id")),
    ("a bad community_id", "alert",
     lambda e: e.__setitem__("community_id", "1:abc")),
    ("a port out of range", "alert",
     lambda e: e.__setitem__("src_port", 65536)),
    ("an address that is not one", "alert",
     lambda e: e.__setitem__("dest_ip", "10.0.0.256")),
    ("an unknown top-level field", "flow",
     lambda e: e.__setitem__("flow_ID", 1)),
    ("an unknown field in flow", "flow",
     lambda e: e["flow"].__setitem__("pkts_to_server", 1)),
    ("an unknown field in imap", "imap",
     lambda e: e["imap"].__setitem__("starttls_offerd", True)),
    ("an unknown imap.mode", "imap",
     lambda e: e["imap"].__setitem__("mode", "tls")),
    ("a negative counter in stats", "stats",
     lambda e: e["stats"]["tcp"].__setitem__("flows", -1)),
    ("an unknown stats counter", "stats",
     lambda e: e["stats"]["capture"].__setitem__("packet", 1)),
    ("an unknown event_type", "anomaly",
     lambda e: e.__setitem__("event_type", "dns")),
]


def check_mutations(v, samples):
    for what, etype, change in MUTATIONS:
        if etype not in samples:
            ok(False, "schema rejects %s" % what, "no %s event seen" % etype)
            continue
        ev = copy.deepcopy(samples[etype])
        change(ev)
        ok(schemas.first_error(v["eve"], ev) is not None,
           "schema rejects %s" % what)


# ---- 2. findings.c ----

FINDING_RE = re.compile(
    r'\[IW_F_\w+\]\s*=\s*\{\s*"(\w+)",\s*(\d+),\s*(\d+),\s*"([\w-]+)",\s*'
    r'IW_LAYER_(\w+)')


def check_findings():
    with open(os.path.join(ROOT, "analyzer", "common", "findings.c")) as fp:
        code = fp.read()
    found = FINDING_RE.findall(code)
    count = re.search(r"IW_F_COUNT", open(os.path.join(
        ROOT, "include", "findings.h")).read())
    ok(len(found) > 0 and count is not None,
       "findings.c: %d findings read" % len(found))
    eve = schemas.load(schemas.EVE)
    enum = eve["$defs"]["finding_id"]["enum"]
    rules = {}
    for r in eve["$defs"]["findings"]["allOf"]:
        sig = r["if"]["properties"]["alert"]["properties"]["signature"][
            "const"]
        rules[sig] = r["then"]
    ok(sorted(enum) == sorted(f[0] for f in found),
       "schema: signature enum is findings.c's ids",
       "only in schema: %s; only in findings.c: %s" % (
           sorted(set(enum) - {f[0] for f in found}),
           sorted({f[0] for f in found} - set(enum))))
    ok(sorted(eve["$defs"]["finding_counts"]["required"]) == sorted(enum),
       "schema: stats' counts by finding have every id")
    for fid, sig, sev, cat, layer in found:
        r = rules.get(fid)
        if r is None:
            ok(False, "schema: %s has a rule in $defs.findings" % fid)
            continue
        a = r["properties"]["alert"]["properties"]
        ok(a["signature_id"]["const"] == int(sig) and
           a["category"]["const"] == cat and
           int(sev) in a["severity"]["enum"] and
           r["required"] == [layer.lower()],
           "schema: %s is signature_id %s, %s, severity %s, evidence in %s"
           % (fid, sig, cat, sev, layer.lower()),
           "schema says %s, %s, %s, %s" % (
               a["signature_id"]["const"], a["category"]["const"],
               a["severity"]["enum"], r["required"]))


# ---- 3. EVENTS.md ----

def check_docs():
    text, errors = gen_events_md.render(schemas.load(schemas.EVE))
    ok(not errors, "schema: every field has a description",
       "; ".join(errors[:3]))
    path = os.path.join(ROOT, "schema", "EVENTS.md")
    try:
        with open(path, encoding="utf-8") as fp:
            have = fp.read()
    except OSError:
        have = None
    ok(have == text, "schema/EVENTS.md is generated from the schema",
       "run schema/gen_events_md.py > schema/EVENTS.md")


def _resolve(root, s):
    while isinstance(s, dict) and "$ref" in s:
        ref = s["$ref"]
        if not ref.startswith("#/"):
            return {}
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        s = dict(target, **{k: v for k, v in s.items() if k != "$ref"})
    return s


def _has_path(root, s, parts):
    """Does the schema s (in root) describe the dotted path?"""
    s = _resolve(root, s)
    if not parts:
        return True
    subs = [s] + [x for x in s.get("allOf", []) if "if" not in x]
    for sub in subs:
        sub = _resolve(root, sub)
        p = sub.get("properties", {}).get(parts[0])
        if isinstance(p, dict) and _has_path(root, p, parts[1:]):
            return True
    return False


def check_mapping_fields(mapping):
    """Every field of ECS.md's table is a field of its schema."""
    eve, ecs = schemas.load(schemas.EVE), schemas.load(schemas.ECS)
    events = [eve["$defs"][t + "_event"] for t in gen_events_md.EVENT_TYPES]
    bad_eve = [src for src, _, _ in mapping
               if not any(_has_path(eve, e, src.split(".")) for e in events)]
    bad_ecs = [dst for _, dst, _ in mapping
               if not _has_path(ecs, ecs, dst.split("."))]
    ok(not bad_eve, "ECS.md: every mapped EVE field is in "
       "events.schema.json", ", ".join(bad_eve))
    ok(not bad_ecs, "ECS.md: every ECS field it maps to is in "
       "ecs-events.schema.json", ", ".join(bad_ecs))


ECS_MUTATIONS = [
    ("an EVE timestamp as @timestamp",
     lambda e: e.__setitem__("@timestamp", e["@timestamp"][:-1] + "+0000")),
    ("a field invented at the top level",
     lambda e: e.__setitem__("flow_id", 1)),
    ("an unknown event.kind",
     lambda e: e["event"].__setitem__("kind", "signal")),
    ("an unknown field in event", lambda e: e["event"].__setitem__("sev", 1)),
    ("no ecs.version", lambda e: e.pop("ecs")),
]


def check_ecs_mutations(v, sample):
    for what, change in ECS_MUTATIONS:
        ev = copy.deepcopy(sample)
        change(ev)
        ok(schemas.first_error(v["ecs"], ev) is not None,
           "ECS schema rejects %s" % what)


# ---- 4. captures ----

def captures():
    out = sorted(glob.glob(os.path.join(ROOT, "pcaps", "*.pcap*")))
    out += sorted(glob.glob(os.path.join(ROOT, "pcaps", "edge", "*.pcap*")))
    if iwtest.need_corpus("the corpus captures against the schemas"):
        for root, _, files in sorted(os.walk(CORPUS)):
            if "truth" in root.split(os.sep):
                continue
            out += [os.path.join(root, f) for f in sorted(files)
                    if re.search(r"\.(pcap|pcapng|cap)(\.gz)?$", f)]
    return [p for p in out if ONLY in p]


def passwords_of(pcap):
    """The expectation's passwords for our captures; for the corpus's,
    those tshark finds in cleartext logins (captures with IMAP)."""
    exp = re.sub(r"\.pcap(ng)?$", "", pcap) + ".expect.json"
    if os.path.exists(exp):
        with open(exp) as fp:
            return json.load(fp).get("passwords", [])
    truth = os.path.join(CORPUS, "truth",
                         os.path.relpath(pcap, CORPUS) + ".json")
    if pcap.startswith(CORPUS) and os.path.exists(truth):
        with open(truth) as fp:
            if json.load(fp).get("imap_connections"):
                return iwtest.capture_passwords(pcap)
    return []


def options_of(pcap):
    exp = re.sub(r"\.pcap(ng)?$", "", pcap) + ".expect.json"
    if os.path.exists(exp):
        with open(exp) as fp:
            return json.load(fp).get("options", [])
    return []


def run(pcap, extra):
    argv = [IMAPWATCH, "-r", pcap, "--flows", "--all-tls"] + \
        options_of(pcap) + extra
    r = subprocess.run(argv, capture_output=True, timeout=600)
    text = r.stdout.decode("utf-8", errors="replace")
    return r.returncode, text.splitlines(), r.stderr.decode(errors="replace")


def parse(lines):
    out = []
    for n, line in enumerate(lines, 1):
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"unparsable line": n})
    return out


def same_memory(eve, ecs):
    """Resident memory differs between two runs, and so do the hash
    tables' chain lengths (each run draws its own SipHash key): take the
    ECS run's.  With workers, so do the peaks (they are each worker's,
    and the key decides which connections share a worker) and what
    depends on how the threads ran: the reader's waits, the correlator's
    longest queue."""
    if eve.get("event_type") == "stats":
        st = ecs.get("imapwatch", {}).get("stats", {})
        mem = st.get("memory", {})
        peaks = ("rss", "peak_rss")
        if "workers" in st:
            peaks += ("flows_peak",)
            for k in ("flows_peak", "reassembly_bytes_peak",
                      "flows_tombstones_peak"):
                if k in st.get("tcp", {}) and k in eve["stats"]["tcp"]:
                    eve["stats"]["tcp"][k] = st["tcp"][k]
            eve["stats"]["workers"] = st["workers"]
            if "queue_peak" in st.get("correlator", {}):
                eve["stats"]["correlator"]["queue_peak"] = \
                    st["correlator"]["queue_peak"]
        for k in peaks:
            if k in mem:
                eve["stats"]["memory"][k] = mem[k]
        if "hash_tables" in st and "hash_tables" in eve["stats"]:
            eve["stats"]["hash_tables"] = st["hash_tables"]


def has_usernames(events):
    return any("username" in json.dumps(e) for e in events)


def check_pair(name, mode):
    """Runs one capture, one --usernames mode, --format eve and ecs."""
    um = ["--usernames", mode, "--username-salt", SALT]
    rc1, eve_lines, err1 = run(name, um)
    rc2, ecs_lines, err2 = run(name, um + ["--format", "ecs"])
    res = {"name": name, "mode": mode, "eve": parse(eve_lines),
           "ecs": parse(ecs_lines), "rc": (rc1, rc2),
           "err": (err1 + err2).strip()[-200:],
           "sanitizer": iwtest.sanitizer_report(err1 + err2),
           "text": "\n".join(eve_lines + ecs_lines) + err1 + err2}
    return res


def judge(res, v, mapping, counts, samples):
    """EVE events valid; ECS ones valid and equal to the translation."""
    rel = os.path.relpath(res["name"], ROOT)
    if rel.startswith(".."):
        rel = os.path.relpath(res["name"], CORPUS)
    tag = "%s%s" % (rel, "" if res["mode"] == "plain" else
                    " --usernames " + res["mode"])
    eve, ecs = res["eve"], res["ecs"]
    ok(res["rc"] == (0, 0) and res["sanitizer"] is None,
       "%s: both runs exit 0, no sanitizer report" % tag,
       "exit %s: %s" % (res["rc"], res["sanitizer"] or res["err"]))
    pws = passwords_of(res["name"])
    if pws:
        iwtest.check_no_password(res["text"], pws, tag)
    bad = None
    for i, e in enumerate(eve):
        counts[e.get("event_type", "?")] += 1
        samples.setdefault(e.get("event_type"), e)
        err = schemas.first_error(v["eve"], e)
        if err and bad is None:
            bad = "line %d: %s" % (i + 1, err)
    ok(bad is None and eve, "%s: %d events valid" % (tag, len(eve)),
       bad or "no events; exit %s: %s" % (res["rc"][0], res["err"]))
    if len(ecs) != len(eve):
        ok(False, "%s: --format ecs gives the same events" % tag,
           "%d events, %d with eve" % (len(ecs), len(eve)))
        return
    bad = None
    for i, (e, c) in enumerate(zip(eve, ecs)):
        err = schemas.first_error(v["ecs"], c)
        if err:
            bad = "line %d: %s" % (i + 1, err)
            break
        same_memory(e, c)
        d = ecs_ref.diff(ecs_ref.translate(e, mapping, res["mode"]), c)
        if d:
            bad = "line %d (%s): %s" % (i + 1, e.get("event_type"), d)
            break
    ok(bad is None, "%s: %d ECS events valid and as ECS.md maps them" %
       (tag, len(ecs)), bad)


def check_captures(v, mapping):
    counts, samples = collections.Counter(), {}
    todo = captures()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(
            lambda p: check_pair(p, "plain"), todo))
        again = [r["name"] for r in results if has_usernames(r["eve"])]
        for mode in ("hash", "omit"):
            results += list(pool.map(
                lambda p, m=mode: check_pair(p, m), again))
    for res in results:
        judge(res, v, mapping, counts, samples)
    print("ok - captures: %s" % ", ".join(
        "%d %s" % (n, t) for t, n in sorted(counts.items())))
    seen = {e["alert"]["signature"] for r in results for e in r["eve"]
            if e.get("event_type") == "alert"}
    enum = schemas.load(schemas.EVE)["$defs"]["finding_id"]["enum"]
    missing = [f for f in enum if f not in seen]
    print("ok - captures: %d of %d finding ids seen%s" % (
        len(enum) - len(missing), len(enum),
        "; not: " + ", ".join(missing) if missing else ""))
    if ONLY:
        skip("captures: every event type seen", "ONLY_PCAP")
    else:
        # tls events (TLS that is not IMAP) come from the corpus only
        want = {"alert", "imap", "flow", "anomaly", "stats"} | (
            {"tls"} if iwtest.have_corpus() else set())
        ok(set(counts) >= want, "captures: every event type seen (%s)"
           % ", ".join(sorted(want)), ", ".join(sorted(counts)))
    return samples


# ---- 5. ECS.md's example ----

def check_example(v, mapping):
    with open(ecs_ref.ECS_MD, encoding="utf-8") as fp:
        text = fp.read()
    blocks = re.findall(r"```json\n(.*?)\n```", text, re.S)
    if not ok(len(blocks) == 2, "ECS.md: an EVE and an ECS example"):
        return
    eve, ecs = json.loads(blocks[0]), json.loads(blocks[1])
    check_ecs_mutations(v, ecs)
    ok(schemas.first_error(v["eve"], eve) is None and
       schemas.first_error(v["ecs"], ecs) is None,
       "ECS.md: the examples are valid")
    d = ecs_ref.diff(ecs_ref.translate(eve, mapping), ecs)
    ok(d is None, "ECS.md: the ECS example is the EVE one translated", d)


def main():
    if not ok(os.access(IMAPWATCH, os.X_OK), "%s is built" % IMAPWATCH):
        return 1
    v = schemas.validators()
    check_schemas(v)
    check_findings()
    check_docs()
    mapping = ecs_ref.read_mapping()
    ok(len(mapping) > 0, "ECS.md: %d mapping rows read" % len(mapping))
    check_mapping_fields(mapping)
    check_example(v, mapping)
    samples = check_captures(v, mapping)
    check_mutations(v, samples)
    return iwtest.exit_status()


if __name__ == "__main__":
    sys.exit(main())
